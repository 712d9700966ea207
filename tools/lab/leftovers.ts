/**
 * What a lab may leave on the machine, read from /proc: the integration tests check that `down`
 * leaves none of it.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';

/** PIDs whose namespace (ns = 'net' | 'pid') is one of ids, read from /proc. */
export async function pidsIn(ns: string, ids: ReadonlySet<string>): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir('/proc')).filter((e) => /^\d+$/.test(e))) {
    const id = await readlink(`/proc/${pid}/ns/${ns}`).catch(() => '');
    if (ids.has(id)) found.push(pid);
  }
  return found;
}

/**
 * PIDs of this lab's host-init.sh processes, by command line (`host-init.sh <name>I DIR`): another
 * lab (another LAB_NAME) may run beside this one, its hosts are not ours.
 */
export async function hostInits(name: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir('/proc')).filter((e) => /^\d+$/.test(e))) {
    const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const k = argv.findIndex((a) => a.endsWith('/host-init.sh'));
    if (comm.trim() === 'host-init.sh' && k >= 0 && new RegExp(`^${name}\\d+$`).test(argv[k + 1] ?? ''))
      found.push(pid);
  }
  return found;
}

/** Of these PIDs, those still in the process table as host-init.sh (zombies keep their comm). */
export async function stillThere(pids: readonly string[]): Promise<string[]> {
  const left: string[] = [];
  for (const pid of pids) {
    const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
    if (comm.trim() === 'host-init.sh') left.push(pid);
  }
  return left;
}

/** Mount points under dir in any mount namespace of the machine (every process's mountinfo). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const found = new Set<string>();
  for (const pid of (await readdir('/proc')).filter((e) => /^\d+$/.test(e))) {
    const info = await readFile(`/proc/${pid}/mountinfo`, 'utf8').catch(() => '');
    for (const line of info.split('\n')) {
      const point = line.split(' ')[4];
      if (point !== undefined && (point === dir || point.startsWith(`${dir}/`))) found.add(point);
    }
  }
  return [...found].sort();
}

/** PIDs whose root directory (a chroot) lies under dir. */
export async function pidsRootedUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir('/proc')).filter((e) => /^\d+$/.test(e))) {
    const root = await readlink(`/proc/${pid}/root`).catch(() => '');
    if (root === dir || root.startsWith(`${dir}/`)) found.push(pid);
  }
  return found;
}

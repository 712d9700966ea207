/**
 * Samples the machine every 2 s for the scale benchmark, one JSON line each, with cumulative CPU
 * counters (clock ticks, 100 Hz) so any interval's share can be computed from two samples:
 *   { t (ms), load1, busy, total (machine, /proc/stat), lab (every process in the lab's netns),
 *     workers (the given PIDs) }
 * A process's CPU counts its own time plus that of the children it reaped (utime, stime, cutime,
 * cstime): short-lived `rabbitmqctl` VMs are counted in the ssh session that waited for them, and
 * so on up to the host's init. Whatever is neither lab nor workers (other people's work, Redis,
 * this driver) is `busy - lab - workers`.
 *
 *   npx tsx bench/scale/sample.ts LAB_NAME WORKER_PID...
 */
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';

const [labName, ...workerArgs] = process.argv.slice(2);
if (labName === undefined || !/^[a-z]([a-z0-9]{0,5}[a-z])?$/.test(labName)) {
  process.stderr.write('usage: sample.ts LAB_NAME WORKER_PID...\n');
  process.exit(2);
}
const workers = new Set(workerArgs.map(Number));
const hostNetns = new RegExp(`^${labName}[0-9]+$`);

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined; // the process ended while we looked
  }
}

/** utime + stime + cutime + cstime of one process (fields 14-17; the name may hold spaces). */
function cpuTicks(pid: number): number {
  const stat = read(`/proc/${pid}/stat`);
  if (stat === undefined) return 0;
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [11, 12, 13, 14].reduce((sum, k) => sum + Number(f[k] ?? 0), 0);
}

function labNetns(): Set<string> {
  const inodes = new Set<string>();
  let names: string[] = [];
  try {
    names = readdirSync('/run/netns');
  } catch {
    return inodes;
  }
  for (const name of names) if (hostNetns.test(name)) inodes.add(`net:[${statSync(`/run/netns/${name}`).ino}]`);
  return inodes;
}

function sample(): string {
  const cpu = (read('/proc/stat') ?? '').split('\n')[0]?.trim().split(/\s+/).slice(1, 9).map(Number) ?? [];
  const total = cpu.reduce((a, b) => a + b, 0);
  const busy = total - (cpu[3] ?? 0) - (cpu[4] ?? 0);
  const netns = labNetns();
  let lab = 0;
  let workerTicks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (workers.has(pid)) {
      workerTicks += cpuTicks(pid);
      continue;
    }
    let ns: string;
    try {
      ns = readlinkSync(`/proc/${pid}/ns/net`);
    } catch {
      continue;
    }
    if (netns.has(ns)) lab += cpuTicks(pid);
  }
  const load1 = Number((read('/proc/loadavg') ?? '0').split(' ')[0]);
  return JSON.stringify({ t: Date.now(), load1, busy, total, lab, workers: workerTicks });
}

process.on('SIGTERM', () => process.exit(0));
for (;;) {
  process.stdout.write(`${sample()}\n`);
  await new Promise((r) => setTimeout(r, 2000));
}

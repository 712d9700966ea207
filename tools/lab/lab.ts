/**
 * Typed wrapper over tools/lab/lab.sh for integration tests and the demo: real Debian "hosts"
 * (lab1..labN, or NAME1..NAMEN for a lab named NAME) built from Linux namespaces, each with sshd and
 * RabbitMQ. Labs with different names live side by side. See tools/lab/README.md.
 *
 * Every call has a deadline; a command that misses it is killed and the promise rejects.
 * Needs root (lab.sh builds namespaces, a bridge and mounts).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const LAB_SH = fileURLToPath(new URL('./lab.sh', import.meta.url));
const DEFAULT_LAB_NAME = 'lab';
/** lab.sh's rule: 1-7 characters (veth-NAME + a 3-digit index fits 15), ending in a letter. */
const LAB_NAME = /^[a-z]([a-z0-9]{0,5}[a-z])?$/;

/** The lab's directory when none is given: /tmp/warren-lab for `lab`, else /tmp/warren-lab-NAME. */
export function defaultLabDir(name: string = DEFAULT_LAB_NAME): string {
  return name === DEFAULT_LAB_NAME ? '/tmp/warren-lab' : `/tmp/warren-lab-${name}`;
}

/**
 * What a host runs: `machine` = the machine's own packages (the default, fast: nothing to build),
 * or a Debian release's own root file system with its rabbitmq-server: `bookworm` (3.10.8),
 * `trixie` (4.0.5), `forky` (4.3.6).
 */
export type LabRelease = 'machine' | 'bookworm' | 'trixie' | 'forky';
export const LAB_RELEASES: readonly LabRelease[] = ['machine', 'bookworm', 'trixie', 'forky'];

export interface LabHost {
  /** Inventory name, hostname and RabbitMQ node host: `lab1` → node `rabbit@lab1`. */
  readonly name: string;
  readonly address: string;
  /** 1-based; the `i` of every Lab method. */
  readonly index: number;
  readonly release: LabRelease;
}

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Which lab: its name (hosts NAME1..NAMEN, netns, veths, bridge, cluster) and its directory. */
export interface LabOptions {
  /** Default `lab`; lab.sh's LAB_NAME. */
  name?: string;
  /** Default defaultLabDir(name). */
  labDir?: string;
}

export interface LabUpOptions extends LabOptions {
  /** true (default): rabbitmq-server installed and running on every host, each with its own cookie. */
  startRabbit?: boolean;
  /** Release of host 1, 2, …; the last one repeats (default ['machine']). Missing trees are built first. */
  releases?: readonly LabRelease[];
}

export interface RunOptions {
  /** Deadline for the whole command, default 60 s. */
  timeoutMs?: number;
  /** Written to the command's stdin (default: empty stdin, EOF at once). */
  input?: string;
}

export interface Lab {
  /** The lab's name: hosts are `${name}1`…, the config's one cluster is `name`. */
  readonly name: string;
  readonly dir: string;
  /** `$dir/warren.yaml`: the lab as a warren config (hosts with pinned host keys, cluster = name). */
  readonly configPath: string;
  readonly hosts: readonly LabHost[];
  /** Tear the whole lab down (idempotent). */
  down(): Promise<void>;
  /** Run `bash -c cmd` as root inside host i through the nsenter backdoor (no ssh). */
  exec(i: number, cmd: string, opts?: RunOptions): Promise<CommandResult>;
  /** Run cmd on host i over ssh as root with strict host key checking; code 255 = ssh failed. */
  ssh(i: number, cmd: string, opts?: RunOptions): Promise<CommandResult>;
  /** Host i's /var/lib/rabbitmq/.erlang.cookie, read on the machine side (trimmed). */
  readCookie(i: number): Promise<string>;
  /** Kill sshd (listener and sessions) on host i: unreachable over ssh, RabbitMQ keeps running. */
  stopSshd(i: number): Promise<void>;
  startSshd(i: number): Promise<void>;
  /** Power cut: every process of host i dies at once (its disks are kept). */
  crash(i: number): Promise<void>;
  /** Start a crashed host again and wait for sshd (and RabbitMQ, if the lab starts it). */
  boot(i: number): Promise<void>;
  /** Silent partition: host i's link goes down (packets dropped, no RST). */
  isolate(i: number): Promise<void>;
  heal(i: number): Promise<void>;
}

interface Outcome extends CommandResult {
  readonly timedOut: boolean;
}

interface Target {
  readonly name: string;
  readonly dir: string;
}

function resolveTarget(opts: LabOptions): Target {
  const name = opts.name ?? DEFAULT_LAB_NAME;
  if (!LAB_NAME.test(name))
    throw new RangeError(
      `lab name must be 1-7 characters, lowercase letters and digits, starting and ending with a letter, got '${name}'`,
    );
  return { name, dir: path.resolve(opts.labDir ?? defaultLabDir(name)) };
}

function runLabSh(
  args: readonly string[],
  lab: Target,
  timeoutMs: number,
  extraEnv: NodeJS.ProcessEnv = {},
  input = '',
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'bash',
      [LAB_SH, ...args],
      {
        // Always both: a LAB_NAME in the caller's environment must not pick another lab.
        env: { ...process.env, ...extraEnv, LAB_NAME: lab.name, LAB_DIR: lab.dir },
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ code: 0, stdout, stderr, timedOut: false });
        } else if (typeof error.code === 'number') {
          resolve({ code: error.code, stdout, stderr, timedOut: false });
        } else if (error.killed === true || error.signal) {
          resolve({ code: -1, stdout, stderr, timedOut: true });
        } else {
          reject(new Error(`lab.sh ${args.join(' ')}: ${error.message}`, { cause: error }));
        }
      },
    );
    child.stdin?.on('error', () => undefined); // EPIPE if the command exits without reading stdin
    child.stdin?.end(input);
  });
}

function describeRun(args: readonly string[], timeoutMs: number, r: Outcome): string {
  const what = `lab.sh ${args.join(' ')}`;
  const tail = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-15).join('\n');
  return r.timedOut ? `${what}: no answer within ${timeoutMs} ms\n${tail}` : `${what}: exit ${r.code}\n${tail}`;
}

/** Run a lab.sh subcommand that must succeed. */
async function labSh(
  args: readonly string[],
  lab: Target,
  timeoutMs: number,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<CommandResult> {
  const r = await runLabSh(args, lab, timeoutMs, extraEnv);
  if (r.timedOut || r.code !== 0) throw new Error(describeRun(args, timeoutMs, r));
  return r;
}

function hostsFromConfig(text: string, configPath: string, releases: readonly LabRelease[]): LabHost[] {
  const config: unknown = parse(text);
  const hosts = (config as { hosts?: unknown } | null)?.hosts;
  if (!Array.isArray(hosts)) throw new Error(`${configPath}: no hosts list`);
  return hosts.map((h: unknown, k) => {
    const { name, address } = (h ?? {}) as { name?: unknown; address?: unknown };
    if (typeof name !== 'string' || typeof address !== 'string')
      throw new Error(`${configPath}: hosts[${k}] lacks name/address`);
    return { name, address, index: k + 1, release: releaseOf(releases, k + 1) };
  });
}

/** lab.sh's rule: host i runs releases[i-1], the last one repeating. */
function releaseOf(releases: readonly LabRelease[], i: number): LabRelease {
  return releases[Math.min(i, releases.length) - 1] ?? 'machine';
}

/** Build the release trees that are missing (one debootstrap ≈ 1 min; several in parallel). */
export async function labBuild(releases: readonly LabRelease[]): Promise<void> {
  const suites = [...new Set(releases)].filter((r) => r !== 'machine');
  if (suites.length > 0) await labSh(['build', ...suites], resolveTarget({}), 900_000);
}

/**
 * Tear down a lab (and any leftover namespaces of its name), whatever state it is in; other labs
 * are not touched. A string is the lab directory of the default-named lab (the old signature).
 */
export async function labDown(target: string | LabOptions = {}): Promise<void> {
  await labSh(['down'], resolveTarget(typeof target === 'string' ? { labDir: target } : target), 60_000);
}

/**
 * Build a lab of n hosts (tearing down any earlier lab first) and wait until every host answers
 * ssh and, unless startRabbit is false, runs RabbitMQ. On failure the lab is torn down again.
 */
export async function labUp(n = 3, opts: LabUpOptions = {}): Promise<Lab> {
  if (!Number.isInteger(n) || n < 1 || n > 200) throw new RangeError(`host count must be 1..200, got ${n}`);
  const lab = resolveTarget(opts);
  const { name, dir } = lab;
  const startRabbit = opts.startRabbit ?? true;
  const releases = opts.releases ?? ['machine'];
  if (releases.length === 0 || releases.some((r) => !LAB_RELEASES.includes(r)))
    throw new RangeError(`releases must be some of ${LAB_RELEASES.join(', ')}, got [${releases.join(', ')}]`);
  const configPath = path.join(dir, 'warren.yaml');
  let hosts: LabHost[];
  // Trees first, under their own deadline: up's deadline is for booting hosts.
  await labBuild(releases);
  try {
    await labSh(['up', String(n)], lab, 100_000 + 20_000 * n, {
      LAB_START_RABBIT: startRabbit ? '1' : '0',
      LAB_RELEASES: releases.join(','),
    });
    hosts = hostsFromConfig(
      await readFile(configPath, { encoding: 'utf8', signal: AbortSignal.timeout(5_000) }),
      configPath,
      releases,
    );
  } catch (err) {
    await labDown(lab).catch(() => undefined);
    throw err;
  }

  const host = (i: number): LabHost => {
    const h = hosts[i - 1];
    if (!Number.isInteger(i) || h === undefined) throw new RangeError(`no host ${i} in this lab (1..${hosts.length})`);
    return h;
  };
  const sub = async (cmd: string, i: number, timeoutMs: number): Promise<void> => {
    await labSh([cmd, String(host(i).index)], lab, timeoutMs);
  };

  return {
    name,
    dir,
    configPath,
    hosts,
    down: () => labDown(lab),
    async exec(i, cmd, o = {}) {
      const timeoutMs = o.timeoutMs ?? 60_000;
      // `timeout` inside the host kills the command's process group there: killing nsenter on
      // the machine side alone would leave the command running in the host.
      const args = ['exec', String(host(i).index), 'timeout', '-k', '5', `${timeoutMs / 1000}s`, 'bash', '-c', cmd];
      const started = Date.now();
      const r = await runLabSh(args, lab, timeoutMs + 15_000, {}, o.input);
      if (r.timedOut || ((r.code === 124 || r.code === 137) && Date.now() - started >= timeoutMs)) {
        throw new Error(describeRun(['exec', String(i), cmd], timeoutMs, { ...r, timedOut: true }));
      }
      return { code: r.code, stdout: r.stdout, stderr: r.stderr };
    },
    async ssh(i, cmd, o = {}) {
      const timeoutMs = o.timeoutMs ?? 60_000;
      const args = ['ssh', String(host(i).index), cmd];
      const r = await runLabSh(args, lab, timeoutMs, {}, o.input);
      if (r.timedOut) throw new Error(describeRun(args, timeoutMs, r));
      return { code: r.code, stdout: r.stdout, stderr: r.stderr };
    },
    async readCookie(i) {
      const h = host(i);
      // a release host writes everything into its overlay's upper dir
      const file =
        h.release === 'machine'
          ? path.join(dir, 'hosts', h.name, 'varlib', '.erlang.cookie')
          : path.join(dir, 'hosts', h.name, 'upper', 'var', 'lib', 'rabbitmq', '.erlang.cookie');
      return (await readFile(file, { encoding: 'utf8', signal: AbortSignal.timeout(5_000) })).trim();
    },
    stopSshd: (i) => sub('sshd-stop', i, 30_000),
    startSshd: (i) => sub('sshd-start', i, 45_000),
    crash: (i) => sub('crash', i, 30_000),
    boot: (i) => sub('boot', i, 150_000),
    isolate: (i) => sub('isolate', i, 10_000),
    heal: (i) => sub('heal', i, 10_000),
  };
}

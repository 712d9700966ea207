import { readFile } from 'node:fs/promises';
import { NodeSSH } from 'node-ssh';
import type { Client, ClientChannel } from 'ssh2';
import type { Host } from '../config/schema.js';
import { WarrenError, messageOf } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { ACCEPTED_MACS, fingerprintOf, hostKeyAlgorithmsFor, matchesPinnedKey } from './host-key.js';
import type { ShellCommand } from './quote.js';
import { commandName, quote } from './quote.js';
import { jobCancelled, throwIfCancelled } from './cancellation.js';
import { Redactor } from './redact.js';

export interface CommandResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface RunOptions {
  /** Bytes for the command's stdin (how secrets travel: never in the command line). Never logged. */
  stdin?: string;
  /** Overall deadline for this command; defaults to the config's ssh.commandTimeoutMs. */
  timeoutMs?: number;
  /** Exit codes that are answers, not failures (e.g. 69 when probing a node that may be down). */
  okExitCodes?: readonly number[];
  /** Most bytes kept of stdout, and of stderr; defaults to the config's ssh.maxOutputBytes. */
  maxOutputBytes?: number;
}

/** One host's shell: the only way steps reach a machine. */
export interface RemoteShell {
  readonly host: Host;
  run(command: ShellCommand, options?: RunOptions): Promise<CommandResult>;
}

/** What ran where, for tests and metrics; the command text never contains a secret (stdin does). */
export interface CommandRecord {
  host: string;
  command: string;
  code: number | null;
  durationMs: number;
  /** Exit 0, or an exit code the caller expected as an answer (e.g. 69 "not running"). */
  ok: boolean;
}
export type CommandObserver = (record: CommandRecord) => void;

/** The shells of one job, by inventory host name, and the job's secrets to redact. */
export interface Shells {
  shell(hostName: string): Promise<RemoteShell>;
  readonly redactor: Redactor;
}

export interface SshSettings {
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** Most bytes a command may print on stdout, and on stderr, before it is cut off (default 4 MiB). */
  maxOutputBytes?: number;
}

/**
 * Default output cap: the largest answer warren reads (cluster_status or list_queues of a big
 * node) is well under 1 MiB; anything past 4 MiB is a hostile or broken host, not an answer.
 */
export const DEFAULT_MAX_OUTPUT_BYTES = 4 * 1024 * 1024;

interface RawResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** The stream that passed the cap (the channel was closed then), if one did. */
  overflow?: 'stdout' | 'stderr';
}

/**
 * Runs one command on an open connection, keeping at most `maxBytes` of stdout and of stderr.
 * node-ssh's execCommand buffers all of both (a host could fill the worker's memory); here a
 * stream past the cap closes the channel at once, so the remote command loses its pipe and the
 * rest is never read: memory stays bounded by the cap, not by what the host prints.
 */
function execCapped(
  connection: Client,
  command: string,
  options: { stdin?: string; maxBytes: number; onChannel: (channel: ClientChannel) => void },
): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    connection.exec(command, (error, channel) => {
      if (error) {
        reject(error);
        return;
      }
      options.onChannel(channel);
      const kept = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
      const size = { stdout: 0, stderr: 0 };
      let overflow: RawResult['overflow'];
      const collect = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
        if (overflow) return;
        const room = options.maxBytes - size[stream];
        if (chunk.length > room) {
          kept[stream].push(chunk.subarray(0, Math.max(0, room)));
          size[stream] = options.maxBytes;
          overflow = stream;
          channel.close();
          return;
        }
        kept[stream].push(chunk);
        size[stream] += chunk.length;
      };
      channel.on('data', collect('stdout'));
      channel.stderr.on('data', collect('stderr'));
      let code: number | null = null;
      let signal: string | null = null;
      channel.on('exit', (exitCode: number | null, exitSignal?: string) => {
        code = exitCode ?? null;
        signal = exitSignal ?? null;
      });
      channel.on('close', () => {
        resolve({
          code,
          signal,
          stdout: Buffer.concat(kept.stdout).toString('utf8'),
          stderr: Buffer.concat(kept.stderr).toString('utf8'),
          ...(overflow ? { overflow } : {}),
        });
      });
      if (options.stdin !== undefined) channel.end(options.stdin);
      else channel.end();
    });
  });
}

function mebibytes(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}

/**
 * Exit codes worth a retry: sysexits' unavailable (rabbitmqctl: node down/unreachable) and tempfail. timeout(1)'s 124
 * is judged on its own (command.timeout).
 */
const TRANSIENT_EXIT_CODES = new Set([69, 75]);

/** Wraps a command for the remote side: its own deadline, root via `sudo -n` when the user is not root. */
export function wrapRemoteCommand(command: ShellCommand, user: string, timeoutMs: number): string {
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  const body = `timeout -k 5 ${seconds} sh -c ${quote(command.text)}`;
  return user === 'root' ? body : `sudo -n ${body}`;
}

/** A connection to one host, opened only after its host key matched the pin. */
class SshShell implements RemoteShell {
  /** Why the connection died under us (keepalive timeout, reset), once it has. */
  private lost: string | undefined;

  constructor(
    readonly host: Host,
    private readonly ssh: NodeSSH,
    private readonly settings: SshSettings,
    private readonly redactor: Redactor,
    private readonly observer: CommandObserver | undefined,
    private readonly logger: Logger | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {
    // node-ssh listens for errors only while connecting. Without a listener, ssh2's "Keepalive
    // timeout" on a silent partition is an uncaught exception that kills the worker, and the socket
    // it should have closed stays open, so the command in flight never returns (seen on the lab).
    ssh.connection?.on('error', (error: Error) => {
      this.lost = error.message;
      this.logger?.warn({ host: host.name, err: error.message }, 'ssh connection lost');
    });
  }

  dispose(): void {
    this.ssh.dispose();
  }

  async run(command: ShellCommand, options: RunOptions = {}): Promise<CommandResult> {
    // A cancelled job starts no new command; one already running is left to finish (or time out).
    throwIfCancelled(this.signal, `${commandName(command)} on ${this.host.name}`);
    const timeoutMs = options.timeoutMs ?? this.settings.commandTimeoutMs;
    const remote = wrapRemoteCommand(command, this.host.user, timeoutMs);
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    let lastResort: NodeJS.Timeout | undefined;
    let timedOut = false;
    const maxBytes = options.maxOutputBytes ?? this.settings.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    let raw: RawResult;
    const connectionLost = (reason: string, cause?: unknown) =>
      new WarrenError('ssh.connection_lost', `lost the SSH connection to ${this.host.name}: ${reason}`, {
        retryable: true,
        host: this.host.name,
        evidence: { host: this.host.name, command: command.text, exitCode: null, stderr: this.redactor.redact(reason) },
        hint: `Check that ${this.host.name} is up and reachable from the worker.`,
        ...(cause === undefined ? {} : { cause }),
      });
    if (this.lost !== undefined) throw connectionLost(this.lost);
    try {
      const connection = this.ssh.connection;
      if (!connection) throw connectionLost('the connection is closed');
      const execution = execCapped(connection, remote, {
        maxBytes,
        ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
        onChannel: (channel) => {
          // The remote `timeout` should end the command; this catches a hung channel or a dead link.
          timer = setTimeout(() => {
            timedOut = true;
            channel.close();
          }, timeoutMs + 10_000);
        },
      });
      // On a dead link channel.close() waits for an answer that never comes: past this point the
      // connection is given up (disposed), so no job waits forever on a host that is gone.
      const abandoned = new Promise<never>((_, reject) => {
        lastResort = setTimeout(() => {
          this.lost ??= `no answer for ${Math.round((timeoutMs + 20_000) / 1000)} s`;
          this.ssh.dispose();
          reject(connectionLost(this.lost));
        }, timeoutMs + 20_000);
      });
      raw = await Promise.race([execution, abandoned]);
    } catch (error) {
      if (error instanceof WarrenError) throw error;
      throw connectionLost(messageOf(error), error);
    } finally {
      clearTimeout(timer);
      clearTimeout(lastResort);
    }
    // A channel closed because the connection died has no exit code: say so, not "exit code none".
    if (raw.code === null && raw.signal === null && this.lost !== undefined) throw connectionLost(this.lost);
    const durationMs = Math.round(performance.now() - started);
    if (raw.overflow) {
      this.observer?.({ host: this.host.name, command: command.text, code: raw.code, durationMs, ok: false });
      throw new WarrenError(
        'ssh.output_too_large',
        `${commandName(command)} on ${this.host.name} printed more than ` +
          `${mebibytes(maxBytes)} on ${raw.overflow}: it was cut off there`,
        {
          host: this.host.name,
          evidence: {
            host: this.host.name,
            command: command.text,
            exitCode: raw.code,
            signal: raw.signal,
            stderr: this.redactor.redact(raw.stderr.slice(0, 4000)),
            stdout: this.redactor.redact(raw.stdout.slice(0, 2000)),
          },
          hint:
            `No answer warren reads is that large: check what ` +
            `${commandName(command)} prints on ${this.host.name} (a broken or ` +
            `hostile host); raise ssh.maxOutputBytes only if the output is ` +
            `legitimate.`,
        },
      );
    }
    const result: CommandResult = {
      code: raw.code,
      signal: raw.signal,
      stdout: raw.stdout,
      stderr: raw.stderr,
      durationMs,
    };
    const ok = raw.code === 0 || (raw.code !== null && (options.okExitCodes?.includes(raw.code) ?? false));
    this.observer?.({ host: this.host.name, command: command.text, code: raw.code, durationMs, ok });
    this.logger?.debug(
      { host: this.host.name, command: command.text, code: raw.code, durationMs },
      'remote command finished',
    );
    // A timeout is never a quiet transient: whoever retries it, it is logged with the command.
    if (timedOut || raw.code === 124)
      this.logger?.warn(
        { host: this.host.name, command: command.text, timeoutMs, durationMs },
        'remote command timed out',
      );
    return judgeResult(this.host.name, command, result, { ...options, timeoutMs }, this.redactor, timedOut);
  }
}

/**
 * Decides a command's fate by its exit code (never by stderr: rabbitmqctl warns there while
 * succeeding). Shared by the real shell and the recording fake so both fail the same way.
 */
export function judgeResult(
  host: string,
  command: ShellCommand,
  result: CommandResult,
  options: RunOptions & { timeoutMs: number },
  redactor: Redactor,
  timedOut = false,
): CommandResult {
  if (result.code === 0 || (result.code !== null && options.okExitCodes?.includes(result.code))) return result;
  const evidence = {
    host,
    command: command.text,
    exitCode: result.code,
    signal: result.signal,
    stderr: redactor.redact(result.stderr).slice(-4000),
    stdout: redactor.redact(result.stdout).slice(-2000),
  };
  if (timedOut || result.code === 124) {
    throw new WarrenError(
      'command.timeout',
      `command timed out after ${Math.round(options.timeoutMs / 1000)} s on ${host}`,
      {
        retryable: true,
        evidence,
        hint: 'Check the host is not overloaded and the service is not hung.',
      },
    );
  }
  throw new WarrenError(
    'command.failed',
    `${commandName(command)} failed on ${host} with exit code ${result.code ?? 'none'}`,
    {
      retryable: result.code === null || TRANSIENT_EXIT_CODES.has(result.code),
      evidence,
    },
  );
}

function classifyConnectError(host: Host, error: unknown, presented: string | undefined): WarrenError {
  const message = messageOf(error);
  // ssh2 marks where a connection failed: 'client-authentication' when the key was refused.
  const level = error instanceof Error && 'level' in error ? error.level : undefined;
  if (/verification failed/i.test(message)) {
    return new WarrenError(
      'ssh.host_key_mismatch',
      `${host.name} (${host.address}:${host.port}) presented host key ` +
        `${presented ?? 'unknown'}, which is not the key pinned in the config`,
      {
        host: host.name,
        hint:
          `If the host was legitimately rebuilt, verify ${presented ?? 'its key'}` +
          ` out of band and update hosts[].hostKey for ${host.name}; otherwise ` +
          `treat this as a possible man-in-the-middle.`,
      },
    );
  }
  if (/no matching/i.test(message)) {
    return new WarrenError(
      'ssh.no_common_algorithm',
      `${host.name} (${host.address}:${host.port}) offers no algorithm warren accepts: ${message}`,
      {
        host: host.name,
        hint:
          `warren accepts no ssh-rsa (SHA-1) host key signatures and no SHA-1 ` +
          `MACs, and offers only the pinned key's type: check HostKeyAlgorithms, ` +
          `MACs and Ciphers in ${host.name}'s sshd_config, and that ` +
          `hosts[].hostKey is one of its host keys.`,
      },
    );
  }
  if (level === 'client-authentication' || /authentication methods failed/i.test(message)) {
    return new WarrenError('ssh.auth_failed', `${host.user}@${host.name} refused our key`, {
      host: host.name,
      hint: `Add the public half of ${host.privateKeyPath} to ~${host.user}/.ssh/authorized_keys on ${host.name}.`,
    });
  }
  if (/timed out/i.test(message) || /ETIMEDOUT/.test(message)) {
    return new WarrenError(
      'ssh.connect_timeout',
      `connecting to ${host.name} (${host.address}:${host.port}) timed out`,
      {
        host: host.name,
        retryable: true,
        hint: `Check that ${host.address} is up and port ${host.port} is reachable from the worker.`,
      },
    );
  }
  return new WarrenError(
    'ssh.connect_failed',
    `cannot connect to ${host.name} (${host.address}:${host.port}): ${message}`,
    {
      host: host.name,
      retryable: true,
      hint: `Check that sshd runs on ${host.name} and listens on port ${host.port}.`,
      cause: error,
    },
  );
}

/** Opens one SSH connection, refusing any host whose key is not the pinned one. */
export async function connectHost(
  host: Host,
  settings: SshSettings,
  env: NodeJS.ProcessEnv = process.env,
): Promise<NodeSSH> {
  let privateKey: string;
  try {
    privateKey = await readFile(host.privateKeyPath, 'utf8');
  } catch (error) {
    throw new WarrenError(
      'ssh.key_unreadable',
      `cannot read the SSH key ${host.privateKeyPath} for ${host.name}: ${messageOf(error)}`,
      {
        host: host.name,
        hint: 'Check hosts[].privateKeyPath and that the worker may read it.',
      },
    );
  }
  const passphrase = host.privateKeyPassphraseEnv ? env[host.privateKeyPassphraseEnv] : undefined;
  let presented: string | undefined;
  const ssh = new NodeSSH();
  try {
    await ssh.connect({
      host: host.address,
      port: host.port,
      username: host.user,
      privateKey,
      ...(passphrase === undefined ? {} : { passphrase }),
      readyTimeout: settings.connectTimeoutMs,
      keepaliveInterval: 5000,
      keepaliveCountMax: 3,
      // Only the pinned key's algorithms, so the host presents the key that was pinned (not its
      // ed25519 one when an RSA or ECDSA key is pinned); no ssh-rsa (SHA-1) signatures, no SHA-1 MACs.
      algorithms: { serverHostKey: hostKeyAlgorithmsFor(host.hostKey), hmac: ACCEPTED_MACS },
      hostVerifier: (key: Buffer) => {
        presented = fingerprintOf(key);
        return matchesPinnedKey(key, host.hostKey);
      },
    });
  } catch (error) {
    ssh.dispose();
    throw classifyConnectError(host, error, presented);
  }
  return ssh;
}

/** One connection per host, opened on first use and reused across a job's steps. */
export class SshSessionPool implements Shells {
  readonly redactor = new Redactor();
  private readonly connections = new Map<string, Promise<SshShell>>();

  constructor(
    private readonly hosts: readonly Host[],
    private readonly settings: SshSettings,
    /** `signal`: the job's; once aborted, no connection is opened and no command started. */
    private readonly options: {
      observer?: CommandObserver;
      logger?: Logger;
      env?: NodeJS.ProcessEnv;
      signal?: AbortSignal;
    } = {},
  ) {}

  shell(hostName: string): Promise<RemoteShell> {
    const signal = this.options.signal;
    if (signal?.aborted) return Promise.reject(jobCancelled(signal, `connecting to ${hostName}`));
    const existing = this.connections.get(hostName);
    if (existing) return existing;
    const host = this.hosts.find((h) => h.name === hostName);
    if (!host) return Promise.reject(new WarrenError('config.invalid', `host ${hostName} is not in the inventory`));
    const opening = connectHost(host, this.settings, this.options.env).then(
      (ssh) =>
        new SshShell(
          host,
          ssh,
          this.settings,
          this.redactor,
          this.options.observer,
          this.options.logger,
          this.options.signal,
        ),
    );
    // A failed connect is not cached: the next attempt (a retry) dials again.
    opening.catch(() => this.connections.delete(hostName));
    this.connections.set(hostName, opening);
    return opening;
  }

  async close(): Promise<void> {
    const shells = await Promise.allSettled(this.connections.values());
    this.connections.clear();
    for (const s of shells) if (s.status === 'fulfilled') s.value.dispose();
  }
}

import type { Host } from '../../src/config/schema.js';
import type { WarrenError } from '../../src/errors.js';
import { jobCancelled, throwIfCancelled } from '../../src/ssh/cancellation.js';
import { commandName } from '../../src/ssh/quote.js';
import type { ShellCommand } from '../../src/ssh/quote.js';
import { Redactor } from '../../src/ssh/redact.js';
import { judgeResult } from '../../src/ssh/session.js';
import type { CommandResult, RemoteShell, RunOptions, Shells } from '../../src/ssh/session.js';

/** One command as a step sent it: the host, the exact text, and stdin when there was one. */
export interface RecordedCommand {
  host: string;
  command: string;
  stdin?: string;
}

/** What a scripted host answers; `code` decides success exactly as on a real host. */
export interface Reply {
  code: number | null;
  stdout?: string;
  stderr?: string;
  signal?: string | null;
}

/** Answers one command; `stdin` is what the step sent on the command's stdin, if anything. */
export type Responder = (host: string, command: string, stdin: string | undefined) => Reply;

/** The same default as config ssh.commandTimeoutMs, so timeouts in errors read as on a real run. */
const DEFAULT_TIMEOUT_MS = 180_000;

/**
 * A recording stand-in for the SSH session pool: every command is recorded in order, answered by a
 * responder, and judged by the real `judgeResult`, so a non-zero exit fails exactly as over SSH.
 * A host listed in `refuse` fails to connect with the given error (e.g. an unknown host key).
 */
export class RecordingShells implements Shells {
  readonly redactor = new Redactor();
  /** Every command run, in the order the steps ran them. */
  readonly commands: RecordedCommand[] = [];
  /** Every host a shell was asked for, in order (repeats included). */
  readonly connections: string[] = [];

  constructor(
    private readonly hosts: readonly Host[],
    private readonly respond: Responder,
    private readonly refuse: ReadonlyMap<string, WarrenError> = new Map(),
    /**
     * `signal`: the job's, as the worker gives it to the pool; once aborted, nothing connects or runs (job.cancelled).
     */
    private readonly options: { signal?: AbortSignal } = {},
  ) {}

  shell(hostName: string): Promise<RemoteShell> {
    const signal = this.options.signal;
    if (signal?.aborted) return Promise.reject(jobCancelled(signal, `connecting to ${hostName}`));
    this.connections.push(hostName);
    const refused = this.refuse.get(hostName);
    if (refused) return Promise.reject(refused);
    const host = this.hosts.find((h) => h.name === hostName);
    if (!host) return Promise.reject(new Error(`recording-shells: ${hostName} is not in the test inventory`));
    return Promise.resolve({
      host,
      run: (command: ShellCommand, options: RunOptions = {}): Promise<CommandResult> =>
        Promise.resolve().then(() => this.answer(host.name, command, options)),
    });
  }

  /** The command texts one host received, in order. */
  commandsOn(host: string): string[] {
    return this.commands.filter((c) => c.host === host).map((c) => c.command);
  }

  /** `host: command` lines for every command matching `pattern`, in run order. */
  matching(pattern: RegExp): string[] {
    return this.commands.filter((c) => pattern.test(c.command)).map((c) => `${c.host}: ${c.command}`);
  }

  private answer(host: string, command: ShellCommand, options: RunOptions): CommandResult {
    throwIfCancelled(this.options.signal, `${commandName(command)} on ${host}`);
    this.commands.push({
      host,
      command: command.text,
      ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
    });
    const reply = this.respond(host, command.text, options.stdin);
    const result: CommandResult = {
      code: reply.code,
      signal: reply.signal ?? null,
      stdout: reply.stdout ?? '',
      stderr: reply.stderr ?? '',
      durationMs: 0,
    };
    return judgeResult(
      host,
      command,
      result,
      { ...options, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS },
      this.redactor,
    );
  }
}

/**
 * A responder for tests that script replies by pattern; the first matching rule answers, anything else fails the test.
 */
export function scripted(rules: readonly [host: string | RegExp, command: RegExp, reply: Reply][]): Responder {
  return (host, command) => {
    for (const [hostPattern, commandPattern, reply] of rules) {
      const hostMatches = typeof hostPattern === 'string' ? hostPattern === host : hostPattern.test(host);
      if (hostMatches && commandPattern.test(command)) return reply;
    }
    throw new Error(`recording-shells: no scripted answer on ${host} for: ${command}`);
  };
}

/** Stable error codes: front ends, tests and operators key on these, never on message text. */
export type WarrenErrorCode =
  | 'config.invalid'
  | 'config.not_found'
  | 'cluster.unknown'
  | 'cluster.busy'
  | 'ssh.connect_failed'
  | 'ssh.connect_timeout'
  | 'ssh.auth_failed'
  | 'ssh.host_key_mismatch'
  | 'ssh.key_unreadable'
  | 'ssh.connection_lost'
  /**
   * Redis did not answer (refused, reset, timed out, connection closed): nothing that needs it works until it is back.
   */
  | 'redis.unreachable'
  /** A command printed more than ssh.maxOutputBytes: cut off, not buffered. */
  | 'ssh.output_too_large'
  /** The host offers no host-key, cipher or MAC algorithm the client accepts (e.g. only ssh-rsa or hmac-sha1). */
  | 'ssh.no_common_algorithm'
  | 'command.failed'
  | 'command.timeout'
  | 'preflight.hostname_mismatch'
  /** rabbitmq-env.conf names the node otherwise than warren expects (a leftover NODENAME=rabbit@localhost). */
  | 'preflight.nodename_mismatch'
  | 'preflight.unresolvable_peer'
  | 'preflight.version_mismatch'
  /** The nodes run RabbitMQ releases (or metadata stores) that cannot form one cluster. */
  | 'preflight.incompatible_nodes'
  | 'install.failed'
  | 'install.version_conflict'
  | 'start.timeout'
  | 'cookie.unreadable'
  /** The seed's cookie is a link or not a regular file: not read, not copied. */
  | 'cookie.unsafe_path'
  /** The seed's cookie is shorter than MIN_COOKIE_LENGTH: refused before it is copied anywhere. */
  | 'cookie.too_short'
  | 'join.would_wipe'
  | 'join.failed'
  | 'replication.unsupported'
  | 'status.unparseable'
  | 'status.unreachable'
  | 'verify.failed'
  | 'job.invalid'
  /** The job was cancelled (its worker aborted it): no command was started after that. */
  | 'job.cancelled'
  | 'operation.unknown'
  /** A safety gate refused a destructive operation (last running disk node, minority, quorum-critical). */
  | 'gate.refused'
  /**
   * A destructive job's approval does not hold in Redis (missing, not approved, another operation, used by another
   * job).
   */
  | 'approval.invalid'
  | 'node.unknown'
  | 'reset.failed'
  | 'forget.failed'
  /** A membership change ran but a majority of the metadata store (Khepri) has not confirmed it yet. */
  | 'membership.unconfirmed'
  /** The job ended (removed, or its worker gave up) without publishing a final event. */
  | 'job.lost'
  /** A port warren was told to listen on (PORT, WARREN_METRICS_PORT, the dashboard's) is taken, or not allowed. */
  | 'listen.failed'
  /** A thrown value warren did not expect: a bug in warren, never the request's fault; its stack is in the log. */
  | 'internal';

/** What a failed remote command left behind: enough to debug without logging in. */
export interface CommandEvidence {
  host: string;
  command: string;
  exitCode: number | null;
  signal?: string | null;
  stderr: string;
  stdout?: string;
}

export interface WarrenErrorOptions {
  /** True when the same request may succeed later (network blips, timeouts). */
  retryable?: boolean;
  host?: string;
  step?: string;
  evidence?: CommandEvidence;
  /** What the operator should do next, in one sentence. */
  hint?: string;
  cause?: unknown;
}

/** Every failure warren reports: a stable code, a message, whether retrying helps, and the evidence. */
export class WarrenError extends Error {
  readonly code: WarrenErrorCode;
  readonly retryable: boolean;
  readonly host?: string;
  step?: string;
  readonly evidence?: CommandEvidence;
  readonly hint?: string;

  constructor(code: WarrenErrorCode, message: string, options: WarrenErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WarrenError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.host = options.host ?? options.evidence?.host;
    this.step = options.step;
    this.evidence = options.evidence;
    this.hint = options.hint;
  }

  /** A plain object safe to store in Redis or print as JSON (evidence is already redacted). */
  toJSON(): SerializedWarrenError {
    return {
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      ...(this.host === undefined ? {} : { host: this.host }),
      ...(this.step === undefined ? {} : { step: this.step }),
      ...(this.evidence === undefined ? {} : { evidence: this.evidence }),
      ...(this.hint === undefined ? {} : { hint: this.hint }),
    };
  }
}

export interface SerializedWarrenError {
  code: WarrenErrorCode;
  message: string;
  retryable: boolean;
  host?: string;
  step?: string;
  evidence?: CommandEvidence;
  hint?: string;
}

export function isWarrenError(value: unknown): value is WarrenError {
  return value instanceof WarrenError;
}

/** The message of any thrown value: an Error's message, else the value as text. */
export function messageOf(thrown: unknown): string {
  return thrown instanceof Error ? thrown.message : String(thrown);
}

/** Errors a warren Redis connection emitted (connectRedis marks them), so they are told from SSH's. */
const redisConnectionErrors = new WeakSet<object>();

/** Marks an error a Redis connection emitted (refused, reset, timed out): toWarrenError calls it redis.unreachable. */
export function markRedisConnectionError(error: Error): void {
  redisConnectionErrors.add(error);
}

/**
 * What ioredis and BullMQ throw at a command when the connection is gone: MaxRetriesPerRequestError
 * (the command's retries ran out), "Connection is closed." (ioredis; BullMQ's ConnectionClosedError),
 * no offline queue to wait in, every Sentinel or cluster node unreachable.
 */
const REDIS_ERROR_NAMES = new Set(['MaxRetriesPerRequestError', 'ConnectionClosedError', 'ClusterAllFailedError']);
const REDIS_ERROR_MESSAGE =
  /^(?:Connection is closed\.|Stream isn't writeable and enableOfflineQueue options is false|All sentinels are unreachable|None of the sentinels are available)/;

/** A Redis network failure: marked by connectRedis, or one of ioredis's and BullMQ's own connection errors. */
export function isRedisConnectionError(thrown: unknown): boolean {
  if (!(thrown instanceof Error)) return false;
  return (
    redisConnectionErrors.has(thrown) || REDIS_ERROR_NAMES.has(thrown.name) || REDIS_ERROR_MESSAGE.test(thrown.message)
  );
}

/**
 * A network failure that reached us as a plain error: the SSH client's (session.ts wraps its own; fakes and ssh2
 * internals may not).
 */
const NETWORK_MESSAGE =
  /ECONNRESET|ETIMEDOUT|EPIPE|ECONNREFUSED|EHOSTUNREACH|socket hang up|Not connected|No response from server/i;

/**
 * Turns any thrown value into a WarrenError. Redis's connection errors are redis.unreachable and
 * other network failures ssh.connection_lost (both retryable); anything else is `internal`: a value
 * warren did not expect says nothing about the request, so no code may blame it. The original
 * value stays the cause (see stackOf).
 */
export function toWarrenError(value: unknown, fallback: { step?: string; host?: string } = {}): WarrenError {
  if (value instanceof WarrenError) {
    if (value.step === undefined && fallback.step !== undefined) value.step = fallback.step;
    return value;
  }
  const message = messageOf(value);
  if (isRedisConnectionError(value)) {
    return new WarrenError('redis.unreachable', `Redis did not answer: ${message}`, {
      retryable: true,
      hint:
        'Check that Redis runs and that REDIS_URL (or REDIS_SENTINELS) points ' +
        'at it; the job is retried once it answers.',
      ...fallback,
      cause: value,
    });
  }
  const listen = listenFailure(value);
  if (listen) return new WarrenError('listen.failed', listen.message, { hint: listen.hint, ...fallback, cause: value });
  if (NETWORK_MESSAGE.test(message))
    return new WarrenError('ssh.connection_lost', message, { retryable: true, ...fallback, cause: value });
  return new WarrenError('internal', message, {
    hint:
      'This is a bug in warren, not a problem with the request: report it ' +
      "with the log line that carries this error's stack.",
    ...fallback,
    cause: value,
  });
}

/**
 * A server that could not open its port: Node's listen error (`code` EADDRINUSE or EACCES, `syscall`
 * listen). Not a bug in warren but a setting or another process: say which port and what to change.
 */
function listenFailure(value: unknown): { message: string; hint: string } | undefined {
  if (!(value instanceof Error)) return undefined;
  const { code, syscall, address, port } = value as NodeJS.ErrnoException & { address?: unknown; port?: unknown };
  if (syscall !== 'listen' || (code !== 'EADDRINUSE' && code !== 'EACCES')) return undefined;
  const where = typeof port === 'number' ? `${typeof address === 'string' ? address : ''}:${port}` : 'its port';
  const settings =
    'PORT for the Slack endpoint, WARREN_METRICS_PORT for /metrics and /healthz, --port for the dashboard';
  return code === 'EADDRINUSE'
    ? {
        message: `cannot listen on ${where}: another process already uses that port`,
        hint: `Stop the other process (\`ss -ltnp\` shows it) or choose a free port (${settings}).`,
      }
    : {
        message: `cannot listen on ${where}: not allowed (ports below 1024 need privileges)`,
        hint: `Choose a port above 1024 (${settings}).`,
      };
}

/** For the log: the stack of an internal error's original value (the one thing a bug report needs), else nothing. */
export function stackOf(error: WarrenError): { stack?: string } {
  if (error.code !== 'internal') return {};
  const cause: unknown = error.cause;
  return {
    stack: cause instanceof Error && cause.stack !== undefined ? cause.stack : (error.stack ?? messageOf(cause)),
  };
}

/** The one place an error becomes the text an operator reads: what broke, where, the evidence, what to do. */
export function describeError(error: Omit<SerializedWarrenError, 'code'> & { code: string }): string {
  const where = [error.step && `step ${error.step}`, error.host && `host ${error.host}`].filter(Boolean).join(', ');
  const lines = [`${error.code}: ${error.message}${where ? ` (${where})` : ''}`];
  if (error.evidence) {
    const e = error.evidence;
    lines.push(`  command: ${e.command}`);
    lines.push(`  exit code: ${e.exitCode ?? 'none'}${e.signal ? ` (signal ${e.signal})` : ''}`);
    const stderr = e.stderr.trim();
    if (stderr) lines.push(`  stderr: ${stderr.split('\n').slice(0, 12).join('\n          ')}`);
  }
  if (error.hint) lines.push(`  next: ${error.hint}`);
  return lines.join('\n');
}

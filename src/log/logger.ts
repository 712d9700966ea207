import { pino, stdSerializers } from 'pino';
import type { DestinationStream, Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/** Field names that carry secrets wherever they sit: the whole name, case-insensitive. */
const SECRET_NAMES = /^(cookie|set-cookie|stdin|authorization|proxy-authorization|x-slack-signature)$/i;
/**
 * ...or how the name ends: SLACK_BOT_TOKEN, signingSecret, WARREN_DASHBOARD_PASSWORD, privateKeyPassphrase, x-api-key.
 */
const SECRET_SUFFIXES = /(token|secret|password|passwd|passphrase|api[-_]?key)$/i;

/** Bounds of the walk: a log line never costs more than this, whatever object it was given. */
const MAX_DEPTH = 32;
const MAX_NODES = 20_000;

/** True for a field whose value is censored at any depth. */
export function isSecretField(name: string): boolean {
  return SECRET_NAMES.test(name) || SECRET_SUFFIXES.test(name);
}

/**
 * A copy of `value` with every secret-bearing field censored at any depth. pino's own redact
 * paths only reach the levels they spell out (`*.token` is one level down), so an environment
 * object or an HTTP client's request headers came out in clear. Errors are serialized first (as
 * pino's err serializer would) so what they carry (an HTTP client's `config.headers`) is walked
 * too. Bounded: cycles print `[circular]`, what lies past the depth or size budget `[truncated]`
 * (never in clear).
 */
export function redactDeep(value: unknown): unknown {
  const ancestors = new WeakSet<object>();
  let budget = MAX_NODES;
  const walk = (node: unknown, depth: number): unknown => {
    if (node === null || typeof node !== 'object') return node;
    if (budget-- <= 0 || depth > MAX_DEPTH) return '[truncated]';
    if (ancestors.has(node)) return '[circular]';
    if (node instanceof Error) return walkWithin(node, () => walk(stdSerializers.err(node), depth));
    const toJSON = (node as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return walkWithin(node, () => walk(toJSON.call(node), depth));
    return walkWithin(node, () => {
      if (Array.isArray(node)) return node.map((item) => walk(item, depth + 1));
      const out: Record<string, unknown> = {};
      for (const [key, field] of Object.entries(node))
        out[key] = isSecretField(key) && field !== undefined ? '[redacted]' : walk(field, depth + 1);
      return out;
    });
  };
  const walkWithin = (node: object, work: () => unknown): unknown => {
    ancestors.add(node);
    try {
      return work();
    } finally {
      ancestors.delete(node);
    }
  };
  return walk(value, 0);
}

/**
 * JSON logs on stderr (stdout stays for command output); level from LOG_LEVEL. Secret-bearing
 * fields are censored by name at any depth, in log objects and child bindings alike, so no call
 * site has to remember. The Erlang cookie never reaches a log by construction (it travels only
 * on stdin); this is the second line of defence.
 */
export function createLogger(
  options: { level?: string; destination?: NodeJS.WritableStream; name?: string } = {},
): Logger {
  const logger = pino(
    {
      name: options.name ?? 'warren',
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      formatters: {
        log: (object) => redactDeep(object) as Record<string, unknown>,
        bindings: (bindings) => redactDeep(bindings) as Record<string, unknown>,
      },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    (options.destination ?? process.stderr) as DestinationStream,
  );
  // pino applies the bindings formatter to the root only; a child's bindings (logger.child({ env }))
  // would be written as given. Every descendant inherits this own property (pino children are
  // Object.create(parent)), and `this` is the logger being asked, so each child's bindings are walked.
  const pinoChild = Object.getPrototypeOf(logger) as { child: Logger['child'] };
  Object.defineProperty(logger, 'child', {
    value: function child(
      this: Logger,
      bindings: Record<string, unknown>,
      childOptions?: Parameters<Logger['child']>[1],
    ) {
      return pinoChild.child.call(this, redactDeep(bindings) as Record<string, unknown>, childOptions);
    },
  });
  return logger;
}

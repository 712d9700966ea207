import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import { parse as parseForm } from 'node:querystring';
import { ErrorCode, ReceiverMultipleAckError } from '@slack/bolt';
import type { App, Receiver, ReceiverEvent } from '@slack/bolt';
import type { Registry } from 'prom-client';
import { messageOf } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { HealthReport } from '../observability/server.js';

/** Where Slack posts commands, interactions and events (the manifest's request URLs). */
export const EVENTS_PATH = '/slack/events';
/** Slack's replay window: a signed request older (or newer) than this is refused. */
export const MAX_REQUEST_AGE_SEC = 5 * 60;
/**
 * How long a delivery is remembered: a request signed at T is accepted from T − 5 min to T + 5 min,
 * so a copy of it can arrive up to ten minutes after the first one.
 */
export const DELIVERY_MEMORY_SEC = 2 * MAX_REQUEST_AGE_SEC;
/** Slack's payloads are a few kB; a body far beyond that is not Slack's. */
const MAX_BODY_BYTES = 1024 * 1024;
/** Bolt's default: a request no listener acked gets a 404 after this long, so Slack stops waiting. */
const UNACKED_AFTER_MS = 3001;

export interface SlackHttpReceiverOptions {
  signingSecret: string;
  logger: Logger;
  /** Clock for the replay window (tests). */
  now?: () => number;
  unackedAfterMs?: number;
  /** What `GET /healthz` reports (200 when healthy, else 503, JSON); without it, a plain `ok`. */
  health?: () => Promise<HealthReport>;
  /** What `GET /metrics` serves (Prometheus text); without it, 404. */
  metrics?: Registry;
  /**
   * Remembers deliveries (Redis, shared by every bot process): true the first time `key` is seen
   * within `ttlSeconds`. Without it, every signed request within the window is acted on.
   */
  firstDelivery?: (key: string, ttlSeconds: number) => Promise<boolean>;
}

/**
 * What identifies one delivery: the body's hash. Each Slack request carries its own trigger_id,
 * response_url, action_ts or event_id, so two bodies alike are the same request, whether replayed
 * as captured (same timestamp and signature) or retried by Slack (new timestamp and signature,
 * X-Slack-Retry-Num).
 */
export function deliveryKey(body: string): string {
  return createHash('sha256').update(body).digest('hex');
}

/**
 * Why a request is not Slack's, or undefined when it is: `x-slack-signature` must be `v0=` and the
 * HMAC-SHA256 of `v0:<timestamp>:<body>` under the signing secret, and `x-slack-request-timestamp`
 * within five minutes of now (a captured request cannot be replayed later).
 */
export function checkSlackSignature(signingSecret: string, headers: IncomingHttpHeaders, body: string, nowMs: number): string | undefined {
  const signature = headers['x-slack-signature'];
  const timestamp = headers['x-slack-request-timestamp'];
  if (typeof signature !== 'string' || typeof timestamp !== 'string') return 'signature or timestamp header missing';
  if (!/^\d{1,12}$/.test(timestamp)) return 'timestamp header is not a number';
  if (Math.abs(Math.floor(nowMs / 1000) - Number(timestamp)) > MAX_REQUEST_AGE_SEC) return 'request is more than five minutes old (or from the future)';
  if (!signature.startsWith('v0=')) return 'unknown signature version';
  const expected = createHmac('sha256', signingSecret).update(`v0:${timestamp}:`).update(body).digest();
  const given = Buffer.from(signature.slice(3), 'hex');
  // Buffer.from(…, 'hex') stops at the first non-hex pair, so a malformed signature comes out short.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'signature mismatch';
  return undefined;
}

/**
 * Bolt's HTTP receiver, minus what warren never uses (OAuth install paths, route matching, a second
 * parse of each body, per-request debug strings): the same checks and the same answers, for less CPU
 * per request, which is what a burst of slash commands waits on. Signature and replay window are
 * checked on every request but Slack's unsigned `ssl_check`. `GET /healthz` (load balancers) and
 * `GET /metrics` (Prometheus) are not Slack's and need no signature; they never reach the app.
 * A body delivered again within the window (a replay, or a Slack retry) is acknowledged and not acted
 * on. Each other body is handed to `app.processEvent` with an ack that answers Slack at once.
 */
export class SlackHttpReceiver implements Receiver {
  private app: App | undefined;
  private server: Server | undefined;
  private readonly now: () => number;
  private readonly unackedAfterMs: number;

  constructor(private readonly options: SlackHttpReceiverOptions) {
    this.now = options.now ?? Date.now;
    this.unackedAfterMs = options.unackedAfterMs ?? UNACKED_AFTER_MS;
  }

  init(app: App): void {
    this.app = app;
  }

  /** Listens on `port` (0: any free port) and resolves with the server once it does. */
  start(port: number): Promise<Server> {
    const server = createServer((req, res) => this.route(req, res));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  }

  stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    if (path === EVENTS_PATH && req.method === 'POST') return this.receive(req, res);
    if (path === '/healthz' && req.method === 'GET') return this.answerHealth(res);
    if (path === '/metrics' && req.method === 'GET' && this.options.metrics) return this.answerMetrics(res, this.options.metrics);
    answer(res, 404);
  }

  private answerHealth(res: ServerResponse): void {
    const health = this.options.health;
    if (!health) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
      return;
    }
    health().then(
      (report) => {
        res.writeHead(report.healthy ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify(report));
      },
      (error: unknown) => {
        this.options.logger.error({ err: messageOf(error) }, 'health check failed');
        if (!res.headersSent) answer(res, 500);
      },
    );
  }

  private answerMetrics(res: ServerResponse, registry: Registry): void {
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(text);
      },
      (error: unknown) => {
        this.options.logger.error({ err: messageOf(error) }, 'metrics could not be collected');
        if (!res.headersSent) answer(res, 500);
      },
    );
  }

  private receive(req: IncomingMessage, res: ServerResponse): void {
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return refuseTooLarge(req, res);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners('data').removeAllListeners('end');
        refuseTooLarge(req, res);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        this.dispatch(req, res, (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)).toString());
      } catch (error) {
        this.options.logger.error({ err: messageOf(error) }, 'slack request failed');
        if (!res.headersSent) answer(res, 500);
      }
    });
    req.on('error', (error) => {
      this.options.logger.warn({ err: error.message }, 'slack request body could not be read');
      if (!res.headersSent) answer(res, 400);
    });
  }

  private dispatch(req: IncomingMessage, res: ServerResponse, raw: string): void {
    // Compare the media type alone: a `; charset=utf-8` parameter must not turn a form into "JSON".
    const mediaType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const form = mediaType === 'application/x-www-form-urlencoded' ? parseForm(raw) : undefined;
    // Slack's SSL check is the one unsigned request; it is answered without looking at anything else.
    if (form?.ssl_check === '1') return answer(res, 200);
    const refusal = checkSlackSignature(this.options.signingSecret, req.headers, raw, this.now());
    if (refusal) {
      this.options.logger.warn({ reason: refusal }, 'slack request refused: not signed by Slack');
      return answer(res, 401);
    }
    let parsed: unknown;
    try {
      parsed = form ? (typeof form.payload === 'string' ? JSON.parse(form.payload) : form) : JSON.parse(raw);
    } catch (error) {
      this.options.logger.warn({ code: 'slack.malformed_body', err: messageOf(error) }, 'slack request body is malformed');
      return answer(res, 400);
    }
    // Signed is not well-formed: `null`, a number or a list is no request of Slack's (and `null.type` would be a 500).
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      this.options.logger.warn({ code: 'slack.malformed_body', kind: parsed === null ? 'null' : Array.isArray(parsed) ? 'array' : typeof parsed }, 'slack request body is not an object');
      return answer(res, 400);
    }
    const body = parsed as Record<string, unknown>;
    if (body.type === 'url_verification') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ challenge: body.challenge }));
      return;
    }
    const firstDelivery = this.options.firstDelivery;
    if (!firstDelivery) return this.deliver(req, res, body);
    firstDelivery(deliveryKey(raw), DELIVERY_MEMORY_SEC).then(
      (first) => {
        if (first) return this.deliver(req, res, body);
        // Acknowledged, so Slack stops retrying; acted on already (or being acted on) by its first delivery.
        this.options.logger.info({ code: 'slack.duplicate_delivery', retryNum: req.headers['x-slack-retry-num'], retryReason: req.headers['x-slack-retry-reason'] }, 'slack request delivered again: acknowledged, not acted on');
        answer(res, 200);
      },
      (error: unknown) => {
        // At most once is the promise: without Redis to tell, nothing is acted on (Slack may retry).
        this.options.logger.error({ code: 'slack.delivery_unchecked', err: messageOf(error) }, 'slack request refused: Redis could not say whether it was delivered before');
        if (!res.headersSent) answer(res, 503);
      },
    );
  }

  private deliver(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>): void {
    const app = this.app;
    if (!app) throw new Error('receiver started without an app');
    const logger = this.options.logger;
    let acked = false;
    const unacked = setTimeout(() => {
      if (acked) return;
      acked = true;
      logger.error({ type: body.type ?? body.command }, 'slack request not acknowledged within 3 seconds: a listener must call ack()');
      if (!res.headersSent) answer(res, 404);
    }, this.unackedAfterMs);
    const settle = (): boolean => {
      if (acked) return false;
      acked = true;
      clearTimeout(unacked);
      return true;
    };
    const event: ReceiverEvent = {
      body,
      ack: (response?: unknown): Promise<void> => {
        if (!settle()) return Promise.reject(new ReceiverMultipleAckError());
        writeAck(res, response);
        return Promise.resolve();
      },
      ...retryOf(req.headers),
    };
    app.processEvent(event).catch((error: unknown) => {
      const code = (error as { code?: unknown }).code;
      if (res.headersSent) {
        logger.error({ err: messageOf(error), code }, 'slack listener failed after its ack');
        return;
      }
      settle();
      logger.error({ err: messageOf(error), code }, 'slack request failed before its ack');
      answer(res, code === ErrorCode.AuthorizationError ? 401 : 500);
    });
  }
}

/** The ack's answer, as Bolt writes it: nothing, a string, or a message as JSON. */
function writeAck(res: ServerResponse, response: unknown): void {
  if (!response) return answer(res, 200);
  if (typeof response === 'string') {
    res.writeHead(200);
    res.end(response);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(response));
}

function answer(res: ServerResponse, status: number): void {
  res.writeHead(status);
  res.end();
}

function refuseTooLarge(req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(413, { connection: 'close' });
  res.end();
  req.resume();
}

function retryOf(headers: IncomingHttpHeaders): Pick<ReceiverEvent, 'retryNum' | 'retryReason'> {
  const num = headers['x-slack-retry-num'];
  const reason = headers['x-slack-retry-reason'];
  return {
    ...(typeof num === 'string' ? { retryNum: Number.parseInt(num, 10) } : {}),
    ...(typeof reason === 'string' ? { retryReason: reason } : {}),
  };
}

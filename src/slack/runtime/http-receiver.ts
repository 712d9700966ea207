import { messageOf } from '../../errors.js';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { parse as parseForm } from 'node:querystring';
import { ErrorCode, HTTPReceiver } from '@slack/bolt';
import type { Registry } from 'prom-client';
import type { Logger } from '../../log/logger.js';
import type { HealthReport } from '../../observability/server.js';
import { boltLoggerFrom } from './bolt-logger.js';
import { observabilityRoutes } from './routes.js';

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
/** `v0=` and the HMAC-SHA256 as Slack writes it: 64 lowercase hex digits, nothing before or after. */
const SIGNATURE = /^v0=[0-9a-f]{64}$/;

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
   * Remembers deliveries (Redis, shared by every bot replica): true the first time `key` is seen
   * within `ttlSeconds`. Without it, every signed request within the window is acted on.
   */
  firstDelivery?: (key: string, ttlSeconds: number) => Promise<boolean>;
}

/**
 * What identifies one delivery: the hash of the body's bytes. Each Slack request carries its own
 * trigger_id, response_url, action_ts or event_id, so two bodies alike are the same request, whether
 * replayed as captured (same timestamp and signature) or retried by Slack (new timestamp and
 * signature, X-Slack-Retry-Num).
 */
export function deliveryKey(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

/**
 * Why a request is not Slack's, or undefined when it is: `x-slack-signature` must be exactly `v0=`
 * and the lowercase hex HMAC-SHA256 of `v0:<timestamp>:` followed by the body's bytes as received,
 * and `x-slack-request-timestamp` a whole number of seconds within five minutes of now (a captured
 * request cannot be replayed later). The bytes, not a decoded string: decoding maps different
 * invalid byte sequences to the same text, which would let two bodies share one signature (and
 * escape the delivery memory, which hashes the bytes).
 */
export function checkSlackSignature(
  signingSecret: string,
  headers: IncomingHttpHeaders,
  body: Buffer,
  nowMs: number,
): string | undefined {
  const signature = headers['x-slack-signature'];
  const timestamp = headers['x-slack-request-timestamp'];
  if (typeof signature !== 'string' || typeof timestamp !== 'string') return 'signature or timestamp header missing';
  if (!/^\d{1,12}$/.test(timestamp)) return 'timestamp header is not a number';
  if (Math.abs(Math.floor(nowMs / 1000) - Number(timestamp)) > MAX_REQUEST_AGE_SEC)
    return 'request is more than five minutes old (or from the future)';
  if (!signature.startsWith('v0=')) return 'unknown signature version';
  // Buffer.from(…, 'hex') would stop at the first non-hex pair and ignore what follows: check the form first.
  if (!SIGNATURE.test(signature)) return 'signature mismatch';
  const expected = createHmac('sha256', signingSecret).update(`v0:${timestamp}:`).update(body).digest();
  if (!timingSafeEqual(Buffer.from(signature.slice(3), 'hex'), expected)) return 'signature mismatch';
  return undefined;
}

/**
 * Bolt's own `HTTPReceiver`, with `/healthz` and `/metrics` as its custom routes (no signature: load
 * balancers and Prometheus are not Slack; they never reach the app), and in front of its request
 * listener the checks Bolt cannot make at any of its hooks, because it reads, verifies and parses the
 * body before the first of them (`customPropertiesExtractor`, middleware) runs:
 *
 * - a body over 1 MiB is refused (413) before it is buffered (Bolt reads any size);
 * - the signature is checked on the body's bytes with strict hex (Bolt checks a decoded string and
 *   accepts `v0=<hex>=anything`), and the window both ways (Bolt accepts a timestamp from the future);
 * - a signed body that is not an object is a 400 (Bolt reads `null.ssl_check` outside its try: an
 *   unhandled rejection);
 * - a body delivered again within the window (a replay, or a Slack retry) is acknowledged and not
 *   acted on; 503 when Redis cannot say.
 *
 * Each other request goes on to Bolt with its body already read (`rawBody`, which Bolt takes as read),
 * so Bolt's routing, ack, 3-second unacked answer and error answers are its own. Bolt's signature
 * verification is off: the check here ran first, on the bytes.
 */
export function createSlackHttpReceiver(options: SlackHttpReceiverOptions): HTTPReceiver {
  const logger = options.logger;
  const receiver = new HTTPReceiver({
    signingSecret: options.signingSecret,
    signatureVerification: false,
    endpoints: EVENTS_PATH,
    logger: boltLoggerFrom(logger),
    customRoutes: observabilityRoutes({
      logger,
      ...(options.health ? { health: options.health } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
    }),
    unhandledRequestTimeoutMillis: options.unackedAfterMs ?? UNACKED_AFTER_MS,
    unhandledRequestHandler: ({ request, response }) => {
      logger.error(
        { path: request.url },
        'slack request not acknowledged within 3 seconds: a listener must call ack()',
      );
      if (!response.headersSent) answer(response, 404);
    },
    processEventErrorHandler: ({ error, response }) => {
      const code = (error as { code?: unknown }).code;
      if (response.headersSent) {
        logger.error({ err: error.message, code }, 'slack listener failed after its ack');
        return Promise.resolve(false);
      }
      logger.error({ err: error.message, code }, 'slack request failed before its ack');
      answer(response, code === ErrorCode.AuthorizationError ? 401 : 500);
      // Answered: true stops Bolt's unacked timer from logging this request as never acknowledged.
      return Promise.resolve(true);
    },
  });
  const bolt = receiver.requestListener;
  const gate = new DeliveryGate(options, bolt);
  receiver.requestListener = (req, res) => {
    if (req.method === 'POST' && pathOf(req.url) === EVENTS_PATH) gate.receive(req, res);
    else void bolt(req, res);
  };
  return receiver;
}

/** A request Bolt is handed with its body read: Bolt's bufferIncomingMessage uses `rawBody` when it is a Buffer. */
type ReadRequest = IncomingMessage & { rawBody?: Buffer };

/** What runs in front of Bolt for each POST to EVENTS_PATH (see createSlackHttpReceiver). */
class DeliveryGate {
  private readonly now: () => number;

  constructor(
    private readonly options: SlackHttpReceiverOptions,
    private readonly bolt: RequestListener,
  ) {
    this.now = options.now ?? Date.now;
  }

  receive(req: ReadRequest, res: ServerResponse): void {
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
        this.check(req, res, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
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

  private check(req: ReadRequest, res: ServerResponse, raw: Buffer): void {
    const logger = this.options.logger;
    // Compare the media type alone: a `; charset=utf-8` parameter must not turn a form into "JSON".
    const mediaType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const text = raw.toString();
    const form = mediaType === 'application/x-www-form-urlencoded' ? parseForm(text) : undefined;
    // Slack's SSL check is the one unsigned request; it is answered without looking at anything else.
    if (form?.ssl_check === '1') return answer(res, 200);
    const refusal = checkSlackSignature(this.options.signingSecret, req.headers, raw, this.now());
    if (refusal) {
      logger.warn({ reason: refusal }, 'slack request refused: not signed by Slack');
      return answer(res, 401);
    }
    let parsed: unknown;
    try {
      parsed = form ? (typeof form.payload === 'string' ? JSON.parse(form.payload) : form) : JSON.parse(text);
    } catch (error) {
      logger.warn({ code: 'slack.malformed_body', err: messageOf(error) }, 'slack request body is malformed');
      return answer(res, 400);
    }
    // Signed is not well-formed: `null`, a number or a list is no request of Slack's.
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      logger.warn(
        {
          code: 'slack.malformed_body',
          kind: parsed === null ? 'null' : Array.isArray(parsed) ? 'array' : typeof parsed,
        },
        'slack request body is not an object',
      );
      return answer(res, 400);
    }
    // Bolt compares the whole header with the form's media type: give it the media type alone.
    if (form) req.headers['content-type'] = mediaType;
    req.rawBody = raw;
    const firstDelivery = this.options.firstDelivery;
    // Slack's URL check changes nothing and may be repeated; Bolt answers it with its challenge.
    if (!firstDelivery || (parsed as { type?: unknown }).type === 'url_verification') return this.handOn(req, res);
    firstDelivery(deliveryKey(raw), DELIVERY_MEMORY_SEC).then(
      (first) => {
        if (first) return this.handOn(req, res);
        // Acknowledged, so Slack stops retrying; acted on already (or being acted on) by its first delivery.
        logger.info(
          {
            code: 'slack.duplicate_delivery',
            retryNum: req.headers['x-slack-retry-num'],
            retryReason: req.headers['x-slack-retry-reason'],
          },
          'slack request delivered again: acknowledged, not acted on',
        );
        answer(res, 200);
      },
      (error: unknown) => {
        // At most once is the promise: without Redis to tell, nothing is acted on (Slack may retry).
        logger.error(
          { code: 'slack.delivery_unchecked', err: messageOf(error) },
          'slack request refused: Redis could not say whether it was delivered before',
        );
        if (!res.headersSent) answer(res, 503);
      },
    );
  }

  /** To Bolt's own listener, which reads `rawBody` instead of the stream. */
  private handOn(req: ReadRequest, res: ServerResponse): void {
    try {
      void this.bolt(req, res);
    } catch (error) {
      // Bolt's server catches what its listener throws only when it calls it itself, in the request's own turn.
      this.options.logger.error({ err: messageOf(error) }, 'slack request failed');
      if (!res.headersSent) answer(res, 500);
    }
  }
}

function pathOf(url: string | undefined): string {
  const value = url ?? '/';
  const query = value.indexOf('?');
  return query < 0 ? value : value.slice(0, query);
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

import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';

/** One Web API call as the emulator saw it. */
export interface RecordedCall {
  method: string;
  args: Record<string, unknown>;
  /** The HTTP status the emulator answered (429 when rate limiting). */
  status: number;
  /** The Slack `error` when it answered ok:false. */
  error?: string;
  token?: string;
}

/** A message as the emulated workspace holds it; `history` keeps every version chat.update wrote. */
export interface EmulatedMessage {
  channel: string;
  ts: string;
  threadTs?: string;
  text: string;
  blocks?: unknown[];
  history: { text: string; blocks?: unknown[] }[];
}

/** A POST to a response_url (Bolt's `respond`). */
export interface ResponseUrlPost {
  id: string;
  body: Record<string, unknown>;
}

/** What the bot sent back on the socket for an envelope. */
export interface EnvelopeAck {
  envelope_id: string;
  payload?: Record<string, unknown>;
}

export interface EmulatorOptions {
  botToken?: string;
  appToken?: string;
  /** How often the emulator pings Socket Mode clients (Slack's clients drop a silent server). */
  pingIntervalMs?: number;
}

export const EMULATED_TEAM = { id: 'T0001', domain: 'example', botUserId: 'U0BOT', botId: 'B0BOT', appId: 'A0WARREN' };

/**
 * A small Slack Web API for tests: the methods warren calls, a response_url endpoint and Socket
 * Mode over a local WebSocket. Bolt and its WebClient run against it unmodified. It records every
 * call and can answer 429 with Retry-After for the next N calls of a method.
 */
export class SlackEmulator {
  readonly calls: RecordedCall[] = [];
  readonly responses: ResponseUrlPost[] = [];
  readonly ephemerals: Record<string, unknown>[] = [];
  private readonly messages = new Map<string, EmulatedMessage>();
  private readonly rateLimits = new Map<string, { remaining: number; retryAfter: number }>();
  private readonly failures = new Map<string, { remaining: number; error: string }>();
  /** Channels the bot is not a member of: posting there fails as Slack fails it. */
  private readonly notMemberOf = new Set<string>();
  private readonly sockets = new Set<WebSocket>();
  private readonly pendingAcks = new Map<string, (ack: EnvelopeAck) => void>();
  private readonly connectionWaiters: (() => void)[] = [];
  private readonly wss = new WebSocketServer({ noServer: true });
  private tsCounter = 0;
  private pinger?: NodeJS.Timeout;
  readonly botToken: string;
  readonly appToken: string;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    options: EmulatorOptions,
  ) {
    this.botToken = options.botToken ?? 'xoxb-emulated-bot-token';
    this.appToken = options.appToken ?? 'xapp-emulated-app-token';
  }

  static async start(options: EmulatorOptions = {}): Promise<SlackEmulator> {
    const ref: { emulator?: SlackEmulator } = {};
    const server = createServer((req, res) => {
      void ref.emulator?.handle(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const emulator = new SlackEmulator(server, (server.address() as AddressInfo).port, options);
    ref.emulator = emulator;
    emulator.setUpSocketMode(options.pingIntervalMs ?? 5000);
    return emulator;
  }

  /** The Web API base URL to give the bot as SLACK_API_URL. */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api/`;
  }

  /** A fresh response_url, as Slack puts in each slash command and interaction. */
  newResponseUrl(): string {
    return `http://127.0.0.1:${this.port}/response/${randomUUID()}`;
  }

  /** The next `count` calls of `method` get HTTP 429 with `Retry-After: retryAfterSeconds`. */
  rateLimit(method: string, count: number, retryAfterSeconds = 1): void {
    this.rateLimits.set(method, { remaining: count, retryAfter: retryAfterSeconds });
  }

  /**
   * The next `count` calls of `method` answer `{ ok: false, error }` as Slack does when it refuses one
   * (e.g. `cant_delete_message` where a workspace lets no app delete messages).
   */
  failNext(method: string, error: string, count = 1): void {
    this.failures.set(method, { remaining: count, error });
  }

  /** The bot is not in `channel`: chat.postMessage there answers not_in_channel. */
  removeBotFrom(channel: string): void {
    this.notMemberOf.add(channel);
  }

  callsOf(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  message(channel: string, ts: string): EmulatedMessage | undefined {
    return this.messages.get(`${channel}/${ts}`);
  }

  /** Top-level messages in a channel, oldest first. */
  channelMessages(channel: string): EmulatedMessage[] {
    return [...this.messages.values()].filter((m) => m.channel === channel && m.threadTs === undefined);
  }

  /** Replies in a message's thread, oldest first. */
  threadReplies(channel: string, ts: string): EmulatedMessage[] {
    return [...this.messages.values()].filter((m) => m.channel === channel && m.threadTs === ts);
  }

  responsesTo(responseUrl: string): ResponseUrlPost[] {
    const id = responseUrl.split('/').pop();
    return this.responses.filter((r) => r.id === id);
  }

  /** Polls until `probe` returns something truthy; the bound only stops a broken test from hanging. */
  async waitFor<T>(probe: () => T | undefined | null | false, what = 'condition', timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`emulator: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Resolves once a Socket Mode client has connected and been greeted. */
  async socketConnected(): Promise<void> {
    if (this.sockets.size > 0) return;
    await new Promise<void>((resolve) => this.connectionWaiters.push(resolve));
  }

  /** Delivers an envelope to the connected Socket Mode client and resolves with its ack. */
  async sendEnvelope(
    type: 'slash_commands' | 'interactive' | 'events_api',
    payload: Record<string, unknown>,
    acceptsResponsePayload = type !== 'events_api',
  ): Promise<EnvelopeAck> {
    await this.socketConnected();
    const envelopeId = randomUUID();
    const acked = new Promise<EnvelopeAck>((resolve) => this.pendingAcks.set(envelopeId, resolve));
    const socket = [...this.sockets][0];
    socket.send(
      JSON.stringify({
        envelope_id: envelopeId,
        type,
        payload,
        accepts_response_payload: acceptsResponsePayload,
        retry_attempt: 0,
        retry_reason: '',
      }),
    );
    return acked;
  }

  async close(): Promise<void> {
    clearInterval(this.pinger);
    for (const socket of this.sockets) socket.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private setUpSocketMode(pingIntervalMs: number): void {
    this.server.on('upgrade', (req, socket, head) => {
      const ticket = new URL(req.url ?? '/', 'http://localhost').pathname;
      if (!ticket.startsWith('/socket/')) {
        socket.destroy();
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws));
    });
    this.pinger = setInterval(() => {
      for (const socket of this.sockets) socket.ping('emulator');
    }, pingIntervalMs);
    this.pinger.unref();
  }

  private onSocket(ws: WebSocket): void {
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
    ws.on('message', (data: Buffer) => {
      let message: EnvelopeAck;
      try {
        message = JSON.parse(data.toString()) as EnvelopeAck;
      } catch {
        return;
      }
      const resolve = this.pendingAcks.get(message.envelope_id);
      if (resolve) {
        this.pendingAcks.delete(message.envelope_id);
        resolve(message);
      }
    });
    // Slack greets each connection; the client counts itself connected only after this.
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: this.sockets.size,
        debug_info: { host: 'emulator', approximate_connection_time: 18060 },
        connection_info: { app_id: EMULATED_TEAM.appId },
      }),
    );
    for (const waiter of this.connectionWaiters.splice(0)) waiter();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const raw = await readBody(req);
    if (url.pathname.startsWith('/response/')) {
      this.responses.push({ id: url.pathname.split('/').pop()!, body: parseBody(raw, req.headers['content-type']) });
      return json(res, 200, { ok: true });
    }
    if (!url.pathname.startsWith('/api/')) return json(res, 404, { ok: false, error: 'not_found' });
    const method = url.pathname.slice('/api/'.length);
    const args = parseBody(raw, req.headers['content-type']);
    const token =
      (req.headers.authorization ?? '').replace(/^Bearer\s+/i, '') ||
      (typeof args.token === 'string' ? args.token : undefined);
    const limit = this.rateLimits.get(method);
    if (limit && limit.remaining > 0) {
      limit.remaining -= 1;
      this.calls.push({ method, args, status: 429, error: 'ratelimited', ...(token ? { token } : {}) });
      res.setHeader('Retry-After', String(limit.retryAfter));
      return json(res, 429, { ok: false, error: 'ratelimited' });
    }
    const failure = this.failures.get(method);
    const failed = failure !== undefined && failure.remaining > 0;
    if (failed) failure.remaining -= 1;
    const answer = failed ? { ok: false, error: failure.error } : this.answer(method, args, token);
    this.calls.push({
      method,
      args,
      status: 200,
      ...(answer.ok ? {} : { error: String(answer.error) }),
      ...(token ? { token } : {}),
    });
    return json(res, 200, answer);
  }

  private answer(method: string, args: Record<string, unknown>, token: string | undefined): Record<string, unknown> {
    if (method === 'apps.connections.open') {
      if (token !== this.appToken) return { ok: false, error: 'invalid_auth' };
      return { ok: true, url: `ws://127.0.0.1:${this.port}/socket/${randomUUID()}` };
    }
    if (token !== this.botToken) return { ok: false, error: token ? 'invalid_auth' : 'not_authed' };
    switch (method) {
      case 'auth.test':
        return {
          ok: true,
          url: `https://${EMULATED_TEAM.domain}.slack.com/`,
          team: 'Example',
          user: 'warren',
          team_id: EMULATED_TEAM.id,
          user_id: EMULATED_TEAM.botUserId,
          bot_id: EMULATED_TEAM.botId,
          is_enterprise_install: false,
        };
      case 'chat.postMessage':
        return this.postMessage(args);
      case 'chat.update':
        return this.update(args);
      case 'chat.delete':
        return this.delete(args);
      case 'chat.postEphemeral': {
        if (typeof args.channel !== 'string' || typeof args.user !== 'string')
          return { ok: false, error: 'invalid_arguments' };
        this.ephemerals.push(args);
        return { ok: true, message_ts: this.nextTs() };
      }
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  private postMessage(args: Record<string, unknown>): Record<string, unknown> {
    const channel = args.channel;
    if (typeof channel !== 'string' || channel.length === 0) return { ok: false, error: 'channel_not_found' };
    if (this.notMemberOf.has(channel)) return { ok: false, error: 'not_in_channel' };
    if (typeof args.text !== 'string' && !Array.isArray(args.blocks)) return { ok: false, error: 'no_text' };
    const threadTs = typeof args.thread_ts === 'string' ? args.thread_ts : undefined;
    if (threadTs && !this.messages.has(`${channel}/${threadTs}`)) return { ok: false, error: 'thread_not_found' };
    const ts = this.nextTs();
    const text = typeof args.text === 'string' ? args.text : '';
    const blocks = Array.isArray(args.blocks) ? (args.blocks as unknown[]) : undefined;
    const message: EmulatedMessage = {
      channel,
      ts,
      text,
      ...(threadTs ? { threadTs } : {}),
      ...(blocks ? { blocks } : {}),
      history: [{ text, ...(blocks ? { blocks } : {}) }],
    };
    this.messages.set(`${channel}/${ts}`, message);
    return {
      ok: true,
      channel,
      ts,
      message: { type: 'message', text, ts, bot_id: EMULATED_TEAM.botId, ...(threadTs ? { thread_ts: threadTs } : {}) },
    };
  }

  private update(args: Record<string, unknown>): Record<string, unknown> {
    const message = this.messages.get(`${String(args.channel)}/${String(args.ts)}`);
    if (!message) return { ok: false, error: 'message_not_found' };
    message.text = typeof args.text === 'string' ? args.text : message.text;
    if (Array.isArray(args.blocks)) message.blocks = args.blocks as unknown[];
    message.history.push({ text: message.text, ...(message.blocks ? { blocks: message.blocks } : {}) });
    return { ok: true, channel: message.channel, ts: message.ts, text: message.text };
  }

  /** As Slack: the bot deletes its own message; its thread's replies go with it. */
  private delete(args: Record<string, unknown>): Record<string, unknown> {
    const key = `${String(args.channel)}/${String(args.ts)}`;
    const message = this.messages.get(key);
    if (!message) return { ok: false, error: 'message_not_found' };
    this.messages.delete(key);
    for (const [other, reply] of this.messages)
      if (reply.channel === message.channel && reply.threadTs === message.ts) this.messages.delete(other);
    return { ok: true, channel: message.channel, ts: message.ts };
  }

  private nextTs(): string {
    this.tsCounter += 1;
    return `${Math.floor(Date.now() / 1000)}.${String(this.tsCounter).padStart(6, '0')}`;
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const JSON_FIELDS = new Set(['blocks', 'attachments', 'metadata']);

/** The WebClient sends form fields with JSON-encoded values for blocks and the like; respond() sends JSON. */
function parseBody(raw: string, contentType: string | undefined): Record<string, unknown> {
  if (raw.length === 0) return {};
  if ((contentType ?? '').includes('application/json')) return JSON.parse(raw) as Record<string, unknown>;
  const fields: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    fields[key] = JSON_FIELDS.has(key) ? tryJson(value) : value;
  }
  return fields;
}

function tryJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

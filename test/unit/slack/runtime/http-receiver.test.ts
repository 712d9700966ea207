import type { App, HTTPReceiver, ReceiverEvent } from '@slack/bolt';
import { ErrorCode } from '@slack/bolt';
import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  EVENTS_PATH,
  checkSlackSignature,
  createSlackHttpReceiver,
} from '../../../../src/slack/runtime/http-receiver.js';
import type { SlackHttpReceiverOptions } from '../../../../src/slack/runtime/http-receiver.js';
import { signSlackRequest } from '../../../../tools/slack-emulator/driver.js';

const SECRET = 'unit-signing-secret-1234';
const NOW_MS = 1_700_000_000_000;
const NOW_SEC = NOW_MS / 1000;
const FORM = 'application/x-www-form-urlencoded';

describe('checkSlackSignature', () => {
  const body = 'command=%2Frabbit&text=help';
  const headers = (ts: number, signature = signSlackRequest(SECRET, ts, body)) => ({
    'x-slack-request-timestamp': String(ts),
    'x-slack-signature': signature,
  });

  it("accepts Slack's v0 signature of this body within five minutes", () => {
    expect(checkSlackSignature(SECRET, headers(NOW_SEC), Buffer.from(body), NOW_MS)).toBeUndefined();
    expect(checkSlackSignature(SECRET, headers(NOW_SEC - 299), Buffer.from(body), NOW_MS)).toBeUndefined();
  });

  it('refuses a correctly signed request replayed after five minutes, or dated in the future beyond them', () => {
    expect(checkSlackSignature(SECRET, headers(NOW_SEC - 6 * 60), Buffer.from(body), NOW_MS)).toMatch(/five minutes/);
    expect(checkSlackSignature(SECRET, headers(NOW_SEC + 6 * 60), Buffer.from(body), NOW_MS)).toMatch(/five minutes/);
  });

  it('refuses another secret, another body, another version, a malformed or missing signature', () => {
    expect(
      checkSlackSignature(
        SECRET,
        headers(NOW_SEC, signSlackRequest('another-secret', NOW_SEC, body)),
        Buffer.from(body),
        NOW_MS,
      ),
    ).toBe('signature mismatch');
    expect(checkSlackSignature(SECRET, headers(NOW_SEC), Buffer.from('command=%2Frabbit&text=jobs'), NOW_MS)).toBe(
      'signature mismatch',
    );
    expect(
      checkSlackSignature(
        SECRET,
        headers(NOW_SEC, signSlackRequest(SECRET, NOW_SEC, body).replace('v0=', 'v1=')),
        Buffer.from(body),
        NOW_MS,
      ),
    ).toBe('unknown signature version');
    expect(checkSlackSignature(SECRET, headers(NOW_SEC, 'v0=zz'), Buffer.from(body), NOW_MS)).toBe(
      'signature mismatch',
    );
    expect(
      checkSlackSignature(
        SECRET,
        headers(NOW_SEC, `${signSlackRequest(SECRET, NOW_SEC, body)}00`),
        Buffer.from(body),
        NOW_MS,
      ),
    ).toBe('signature mismatch');
    expect(
      checkSlackSignature(SECRET, { 'x-slack-request-timestamp': String(NOW_SEC) }, Buffer.from(body), NOW_MS),
    ).toMatch(/missing/);
    expect(checkSlackSignature(SECRET, headers(Number.NaN), Buffer.from(body), NOW_MS)).toMatch(/not a number/);
  });

  it('takes only lowercase hex of exactly 64 digits, nothing before or after it', () => {
    const good = signSlackRequest(SECRET, NOW_SEC, body);
    expect(
      checkSlackSignature(SECRET, headers(NOW_SEC, `v0=${good.slice(3).toUpperCase()}`), Buffer.from(body), NOW_MS),
    ).toBe('signature mismatch');
    expect(checkSlackSignature(SECRET, headers(NOW_SEC, `${good}=extra`), Buffer.from(body), NOW_MS)).toBe(
      'signature mismatch',
    );
    expect(checkSlackSignature(SECRET, headers(NOW_SEC, `${good}z`), Buffer.from(body), NOW_MS)).toBe(
      'signature mismatch',
    );
    expect(checkSlackSignature(SECRET, headers(NOW_SEC, ` ${good}`), Buffer.from(body), NOW_MS)).toBe(
      'unknown signature version',
    );
  });

  it('signs the bytes received: a body whose bytes differ is refused even where it decodes to the same text', () => {
    // 0xff and 0xfe are no UTF-8: both decode to U+FFFD, so as text the two bodies are one.
    const signed = Buffer.concat([Buffer.from('command=%2Frabbit&text='), Buffer.from([0xff])]);
    const other = Buffer.concat([Buffer.from('command=%2Frabbit&text='), Buffer.from([0xfe])]);
    expect(signed.toString()).toBe(other.toString());
    const signature = `v0=${createHmac('sha256', SECRET).update(`v0:${NOW_SEC}:`).update(signed).digest('hex')}`;
    expect(checkSlackSignature(SECRET, headers(NOW_SEC, signature), signed, NOW_MS)).toBeUndefined();
    expect(checkSlackSignature(SECRET, headers(NOW_SEC, signature), other, NOW_MS)).toBe('signature mismatch');
  });
});

/** A receiver on a free port, with an app whose processEvent the test decides. */
async function startReceiver(
  processEvent: (event: ReceiverEvent) => Promise<void>,
  options: Partial<Pick<SlackHttpReceiverOptions, 'unackedAfterMs' | 'health' | 'metrics' | 'firstDelivery'>> = {},
) {
  const events: ReceiverEvent[] = [];
  const receiver = createSlackHttpReceiver({ signingSecret: SECRET, logger: pino({ level: 'silent' }), ...options });
  receiver.init({
    processEvent: (event: ReceiverEvent) => {
      events.push(event);
      return processEvent(event);
    },
  } as unknown as App);
  const server = await receiver.start(0);
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { receiver, events, base };
}

let running: HTTPReceiver | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

async function post(
  base: string,
  body: string,
  options: { contentType?: string; ts?: number; secret?: string; signature?: string } = {},
) {
  const ts = options.ts ?? Math.floor(Date.now() / 1000);
  const response = await fetch(`${base}${EVENTS_PATH}`, {
    method: 'POST',
    headers: {
      'content-type': options.contentType ?? FORM,
      'x-slack-request-timestamp': String(ts),
      'x-slack-signature': options.signature ?? signSlackRequest(options.secret ?? SECRET, ts, body),
    },
    body,
  });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

describe('SlackHttpReceiver', () => {
  it('hands a signed slash command to the app and answers with what the listener acks, as JSON', async () => {
    const r = await startReceiver(async (event) => {
      await event.ack({ response_type: 'ephemeral', text: 'hi' });
    });
    running = r.receiver;
    const reply = await post(r.base, 'command=%2Frabbit&text=help&user_id=U1');
    expect(reply).toEqual({ status: 200, type: 'application/json', text: '{"response_type":"ephemeral","text":"hi"}' });
    expect(r.events).toHaveLength(1);
    expect({ ...r.events[0].body }).toEqual({ command: '/rabbit', text: 'help', user_id: 'U1' });
  });

  it('reads a form whose content type carries a charset parameter', async () => {
    const r = await startReceiver(async (event) => {
      await event.ack();
    });
    running = r.receiver;
    const reply = await post(r.base, 'command=%2Frabbit&text=help&user_id=U1', {
      contentType: 'application/x-www-form-urlencoded; charset=utf-8',
    });
    expect(reply.status).toBe(200);
    expect({ ...r.events[0]?.body }).toEqual({ command: '/rabbit', text: 'help', user_id: 'U1' });
  });

  it('answers an empty ack with an empty 200, and parses an interaction payload and a JSON event', async () => {
    const r = await startReceiver((event) => event.ack());
    running = r.receiver;
    const payload = { type: 'block_actions', actions: [{ value: 'rmq-lab' }] };
    expect(await post(r.base, `payload=${encodeURIComponent(JSON.stringify(payload))}`)).toMatchObject({
      status: 200,
      text: '',
    });
    expect(r.events[0].body).toEqual(payload);
    const event = { type: 'event_callback', event: { type: 'app_mention' } };
    expect((await post(r.base, JSON.stringify(event), { contentType: 'application/json' })).status).toBe(200);
    expect(r.events[1].body).toEqual(event);
  });

  it(
    'answers 401 to a forged, a replayed (older than five minutes) or an ' +
      'unsigned request, and never calls the app',
    async () => {
      const r = await startReceiver((event) => event.ack());
      running = r.receiver;
      const body = 'command=%2Frabbit&text=cluster+create+rmq-lab';
      expect((await post(r.base, body, { secret: 'not-the-secret' })).status).toBe(401);
      expect((await post(r.base, body, { ts: Math.floor(Date.now() / 1000) - 6 * 60 })).status).toBe(401);
      expect((await post(r.base, body, { signature: '' })).status).toBe(401);
      const unsigned = await fetch(`${r.base}${EVENTS_PATH}`, {
        method: 'POST',
        headers: { 'content-type': FORM },
        body,
      });
      expect(unsigned.status).toBe(401);
      expect(r.events).toEqual([]);
    },
  );

  it(
    "answers Slack's unsigned ssl_check without calling the app, and a " + 'url_verification with its challenge',
    async () => {
      const r = await startReceiver((event) => event.ack());
      running = r.receiver;
      const check = await fetch(`${r.base}${EVENTS_PATH}`, {
        method: 'POST',
        headers: { 'content-type': FORM },
        body: 'ssl_check=1&token=x&command=%2Frabbit',
      });
      expect(check.status).toBe(200);
      const challenge = await post(r.base, JSON.stringify({ type: 'url_verification', challenge: 'abc' }), {
        contentType: 'application/json',
      });
      expect(challenge).toEqual({ status: 200, type: 'application/json', text: '{"challenge":"abc"}' });
      expect(r.events).toEqual([]);
    },
  );

  it('answers 400 to a signed body that is not JSON, and 413 to one far larger than Slack sends', async () => {
    const r = await startReceiver((event) => event.ack());
    running = r.receiver;
    expect((await post(r.base, '{not json', { contentType: 'application/json' })).status).toBe(400);
    expect((await post(r.base, `text=${'a'.repeat(2 * 1024 * 1024)}`)).status).toBe(413);
    expect(r.events).toEqual([]);
  });

  it(
    'refuses a second ack, answers 404 when nothing acks in time, 500 or ' + '401 when the app fails before its ack',
    async () => {
      let second: Promise<unknown> | undefined;
      const r = await startReceiver(
        async (event) => {
          const text = (event.body as { text?: string }).text;
          if (text === 'twice') {
            await event.ack();
            second = event.ack().catch((error: unknown) => error);
          } else if (text === 'fail') throw new Error('boom');
          else if (text === 'auth')
            throw Object.assign(new Error('no installation'), { code: ErrorCode.AuthorizationError });
        },
        { unackedAfterMs: 20 },
      );
      running = r.receiver;
      expect((await post(r.base, 'text=twice')).status).toBe(200);
      expect(await second).toMatchObject({ code: ErrorCode.ReceiverMultipleAckError });
      expect((await post(r.base, 'text=ignored')).status).toBe(404);
      expect((await post(r.base, 'text=fail')).status).toBe(500);
      expect((await post(r.base, 'text=auth')).status).toBe(401);
    },
  );

  it('answers GET /healthz without a signature, and 404 elsewhere', async () => {
    const r = await startReceiver((event) => event.ack());
    running = r.receiver;
    const health = await fetch(`${r.base}/healthz`);
    expect([health.status, await health.text()]).toEqual([200, 'ok']);
    expect((await fetch(`${r.base}/other`)).status).toBe(404);
    expect((await fetch(`${r.base}${EVENTS_PATH}`)).status).toBe(404);
    expect((await fetch(`${r.base}/metrics`)).status).toBe(404);
  });

  it('answers GET /healthz with the health report: 200 when healthy, 503 naming the failing check', async () => {
    let healthy = true;
    const r = await startReceiver((event) => event.ack(), {
      health: () =>
        Promise.resolve(
          healthy
            ? { healthy, checks: { redis: { ok: true } } }
            : { healthy, checks: { redis: { ok: false, detail: 'no answer within 1000 ms' } } },
        ),
    });
    running = r.receiver;
    const good = await fetch(`${r.base}/healthz`);
    expect([good.status, good.headers.get('content-type'), await good.json()]).toEqual([
      200,
      'application/json',
      { healthy: true, checks: { redis: { ok: true } } },
    ]);
    healthy = false;
    const bad = await fetch(`${r.base}/healthz`);
    expect([bad.status, await bad.json()]).toEqual([
      503,
      { healthy: false, checks: { redis: { ok: false, detail: 'no answer within 1000 ms' } } },
    ]);
    expect(r.events).toEqual([]);
  });

  it('serves GET /metrics from its registry without a signature, and never hands it to the app', async () => {
    const registry = new Registry();
    new Counter({ name: 'warren_test_total', help: 'a test counter', registers: [registry] }).inc(3);
    const r = await startReceiver((event) => event.ack(), { metrics: registry });
    running = r.receiver;
    const scrape = await fetch(`${r.base}/metrics`);
    expect(scrape.status).toBe(200);
    expect(scrape.headers.get('content-type')).toBe(registry.contentType);
    expect(await scrape.text()).toContain('warren_test_total 3');
    expect((await fetch(`${r.base}/metrics`, { method: 'POST' })).status).toBe(404);
    expect(r.events).toEqual([]);
  });

  it(
    'answers 400 to a signed body that is JSON but not an object (a form ' + 'payload too), and never calls the app',
    async () => {
      const r = await startReceiver((event) => event.ack());
      running = r.receiver;
      for (const body of ['null', '42', '"text"', '[]'])
        expect((await post(r.base, body, { contentType: 'application/json' })).status).toBe(400);
      expect((await post(r.base, 'payload=null')).status).toBe(400);
      expect(r.events).toEqual([]);
    },
  );

  it(
    'acts once on a body delivered twice, answering the copy 200 without ' +
      'calling the app; 503 and no call when Redis cannot say',
    async () => {
      const seen = new Set<string>();
      let redisUp = true;
      const r = await startReceiver((event) => event.ack(), {
        firstDelivery: (key) => {
          if (!redisUp) return Promise.reject(new Error('Connection is closed.'));
          const first = !seen.has(key);
          seen.add(key);
          return Promise.resolve(first);
        },
      });
      running = r.receiver;
      const ts = Math.floor(Date.now() / 1000);
      const body = 'command=%2Frabbit&text=help&trigger_id=1.2.a';
      expect((await post(r.base, body, { ts })).status).toBe(200);
      expect(await post(r.base, body, { ts: ts + 1 })).toMatchObject({ status: 200, text: '' });
      expect(r.events).toHaveLength(1);
      redisUp = false;
      expect((await post(r.base, 'command=%2Frabbit&text=help&trigger_id=2.2.a')).status).toBe(503);
      expect(r.events).toHaveLength(1);
    },
  );
});

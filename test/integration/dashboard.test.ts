import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { request } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import { UnrecoverableError, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDashboard } from '../../src/cli/dashboard-command.js';
import { WarrenError } from '../../src/errors.js';
import { createReadOnlyBoard, startDashboard } from '../../src/observability/dashboard.js';
import type { DashboardServer } from '../../src/observability/dashboard.js';
import { openOperationsQueue } from '../../src/queue/queue.js';
import type { OperationsQueue } from '../../src/queue/queue.js';
import { connectRedis } from '../../src/queue/redis.js';
import { JobData } from '../../src/operations/schema.js';
import { QUEUE_NAME } from '../../src/queue/queue.js';

const USER = 'ops';
const PASSWORD = 'a long dashboard password';
const basic = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});
const GOOD = basic(USER, PASSWORD);

/** Every Bull Board action that would change the job or the queue, as the UI would call it. */
const mutations = (jobId: string): Array<[string, string]> => [
  ['PUT', `/api/queues/${QUEUE_NAME}/${jobId}/retry`],
  ['PUT', `/api/queues/${QUEUE_NAME}/${jobId}/clean`],
  ['PUT', `/api/queues/${QUEUE_NAME}/retry/failed`],
  ['PUT', `/api/queues/${QUEUE_NAME}/clean/failed`],
  ['PUT', `/api/queues/${QUEUE_NAME}/empty`],
  ['PUT', `/api/queues/${QUEUE_NAME}/pause`],
  ['POST', `/api/queues/${QUEUE_NAME}/add`],
];

async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function rejection(promise: Promise<unknown>): Promise<WarrenError> {
  const error: unknown = await promise.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  if (!(error instanceof WarrenError)) throw error;
  return error;
}

describe('the job dashboard on real Redis', () => {
  const redis = connectRedis();
  const prefix = `dash-${randomUUID().slice(0, 8)}`;
  let queue: OperationsQueue;
  let dashboard: DashboardServer;
  let jobId: string;
  let base: string;

  /** What a mutation must leave alone: the job's state and attempts, and the queue's counts. */
  async function snapshot() {
    const job = await queue.getJob(jobId);
    return {
      state: await queue.getJobState(jobId),
      attemptsMade: job?.attemptsMade,
      counts: await queue.getJobCounts(),
      paused: await queue.isPaused(),
    };
  }

  beforeAll(async () => {
    queue = openOperationsQueue(redis, prefix);
    const job = await queue.add(
      'cluster.create',
      JobData.parse({
        operation: 'cluster.create',
        cluster: 'dash-mq',
        origin: { kind: 'cli', user: 'test' },
        requestedAt: new Date().toISOString(),
      }),
      { attempts: 1 },
    );
    jobId = job.id ?? '';
    // A failed job is one every action applies to (retry, clean), so a refusal can only come from read-only mode.
    const worker = new Worker(QUEUE_NAME, () => Promise.reject(new UnrecoverableError('sshd down on dash-mq-1')), {
      connection: redis,
      prefix,
    });
    try {
      expect(
        await waitFor(
          () => queue.getJobState(jobId),
          (s) => s === 'failed',
        ),
      ).toBe('failed');
    } finally {
      await worker.close();
    }
    dashboard = await startDashboard({ connection: redis, prefix, port: 0, username: USER, password: PASSWORD });
    base = `http://127.0.0.1:${dashboard.port}`;
  });

  afterAll(async () => {
    await dashboard?.close();
    await queue?.obliterate({ force: true });
    await queue?.close();
    await redis.quit();
  });

  it('binds to loopback by default', () => {
    expect(dashboard.host).toBe('127.0.0.1');
  });

  it('asks for credentials on the page, a static asset, the API and unknown paths', async () => {
    const page = await (await fetch(`${base}/`, { headers: GOOD })).text();
    const css = /href="(static\/css\/[^"]+\.css)"/.exec(page)?.[1];
    expect(css).toBeDefined();
    const asset = await fetch(`${base}/${css}`, { headers: GOOD });
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/text\/css/);

    for (const path of [
      '/',
      `/${css}`,
      '/static/favicon-32x32.png',
      '/api/queues',
      `/api/queues/${QUEUE_NAME}/${jobId}`,
      `/queue/${QUEUE_NAME}`,
      '/nope',
    ]) {
      const response = await fetch(`${base}${path}`);
      expect(response.status, path).toBe(401);
      expect(response.headers.get('www-authenticate'), path).toMatch(/^Basic realm="warren dashboard"/);
      expect(await response.text(), path).not.toContain(jobId);
    }
  });

  it('refuses a wrong password and a wrong user', async () => {
    for (const headers of [
      basic(USER, `${PASSWORD}x`),
      basic(USER, PASSWORD.slice(0, -1)),
      basic('admin', PASSWORD),
      { authorization: 'Bearer whatever' },
    ]) {
      for (const path of ['/', '/api/queues']) {
        const response = await fetch(`${base}${path}`, { headers });
        expect(response.status, `${headers.authorization} ${path}`).toBe(401);
        expect(response.headers.get('www-authenticate')).toMatch(/^Basic /);
      }
    }
  });

  it('with the right credentials, serves the page and lists the job through the API, read-only', async () => {
    const page = await fetch(`${base}/`, { headers: GOOD });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('<title>warren</title>');

    const list = await fetch(`${base}/api/queues?activeQueue=${QUEUE_NAME}&status=failed`, { headers: GOOD });
    expect(list.status).toBe(200);
    const body = (await list.json()) as {
      queues: Array<{
        name: string;
        readOnlyMode: boolean;
        allowRetries: boolean;
        counts: Record<string, number>;
        jobs: Array<{ id: string; failedReason?: string }>;
      }>;
    };
    const listed = body.queues.find((q) => q.name === QUEUE_NAME);
    expect(listed).toMatchObject({ readOnlyMode: true, allowRetries: false, counts: { failed: 1 } });
    expect(listed?.jobs.map((j) => j.id)).toEqual([jobId]);
    expect(listed?.jobs[0].failedReason).toBe('sshd down on dash-mq-1');

    const one = await fetch(`${base}/api/queues/${QUEUE_NAME}/${jobId}`, { headers: GOOD });
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({ job: { id: jobId, data: { cluster: 'dash-mq' } }, status: 'failed' });
  });

  it('refuses every mutating API call, and the job and queue stay as they were', async () => {
    const before = await snapshot();
    expect(before.state).toBe('failed');
    for (const [method, path] of mutations(jobId)) {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: { ...GOOD, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(response.status, `${method} ${path}`).toBe(405);
      expect(response.headers.get('allow')).toBe('GET, HEAD');
    }
    // Unauthenticated mutations get the login challenge, not a hint that the route exists.
    expect((await fetch(`${base}/api/queues/${QUEUE_NAME}/${jobId}/retry`, { method: 'PUT' })).status).toBe(401);
    expect(await snapshot()).toEqual(before);
  });

  it("Bull Board's own read-only mode refuses the same calls, which a writable board would carry out", async () => {
    // The method gate above is the outer wall; this checks the inner one on its own.
    const board = createReadOnlyBoard(queue);
    const before = await snapshot();
    for (const [method, path] of mutations(jobId)) {
      const response = await board(
        new Request(`http://dashboard${path}`, { method, headers: { 'content-type': 'application/json' }, body: '{}' }),
      );
      expect(response.status, `${method} ${path}`).toBe(405);
      expect(await response.json(), `${method} ${path}`).toMatchObject({ error: { key: 'ERRORS.QUEUE_READ_ONLY' } });
    }
    expect(await snapshot()).toEqual(before);

    // Control: the same retry call on a writable board does move the job, so the routes above are real.
    const writable = new HonoAdapter(serveStatic).setBasePath('/');
    createBullBoard({ queues: [new BullMQAdapter(queue, { readOnlyMode: false })], serverAdapter: writable });
    const retried = await writable
      .registerPlugin()
      .fetch(new Request(`http://dashboard/api/queues/${QUEUE_NAME}/${jobId}/retry`, { method: 'PUT' }));
    expect(retried.status).toBe(204);
    expect(await queue.getJobState(jobId)).toBe('waiting');
  });

  it('refuses to start without both credentials or with a short password (config.invalid)', async () => {
    for (const credentials of [
      {},
      { username: USER },
      { password: PASSWORD },
      { username: USER, password: 'short-pw-11' },
    ]) {
      const error = await rejection(startDashboard({ connection: redis, prefix, port: 0, ...credentials }));
      expect(error.code).toBe('config.invalid');
    }
    // The command reads the environment, and fails the same way before it dials Redis.
    const error = await rejection(
      runDashboard(
        { port: '0', host: '127.0.0.1', prefix },
        { REDIS_URL: 'redis://127.0.0.1:1', WARREN_DASHBOARD_USER: USER },
      ),
    );
    expect(error.code).toBe('config.invalid');
  });
});

describe('the dashboard command', () => {
  it('serves until SIGTERM, then closes and exits 0', async () => {
    // main.ts registers the command; this builds a program with only it, so the test runs from source.
    const dir = await mkdtemp(join(tmpdir(), 'warren-dashboard-'));
    const entry = join(dir, 'dashboard-cli.mts');
    const commandModule = pathToFileURL(resolve('src/cli/dashboard-command.ts')).href;
    // The script lives outside the repository, so it names commander by path, not by package name.
    const commander = pathToFileURL(createRequire(import.meta.url).resolve('commander')).href;
    await writeFile(
      entry,
      [
        `import { Command } from ${JSON.stringify(commander)};`,
        `import { addDashboardCommand } from ${JSON.stringify(commandModule)};`,
        "const program = new Command('warren').option('--prefix <prefix>', 'prefix', 'warren');",
        'let code = 0;',
        'addDashboardCommand(program, (c) => { code = c; });',
        'await program.parseAsync(process.argv);',
        'process.exit(code);',
      ].join('\n'),
    );
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', entry, '--prefix', `dash-${randomUUID().slice(0, 8)}`, 'dashboard', '--port', '0'],
      {
        cwd: process.cwd(),
        env: { ...process.env, WARREN_DASHBOARD_USER: USER, WARREN_DASHBOARD_PASSWORD: PASSWORD, LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      const ready = await waitFor(
        () => Promise.resolve(output.split('\n').find((line) => line.includes('"dashboard ready"'))),
        (line) => line !== undefined || child.exitCode !== null,
        20_000,
      );
      expect(ready, output).toBeDefined();
      const { host, port } = JSON.parse(ready ?? '{}') as { host: string; port: number };
      expect(host).toBe('127.0.0.1');
      expect((await fetch(`http://127.0.0.1:${port}/api/queues`)).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${port}/api/queues`, { headers: GOOD })).status).toBe(200);

      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code, output).toBe(0);
      expect(output).toContain('"closing"');
      expect(output).not.toContain(PASSWORD);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

/** A GET to the dashboard from a chosen loopback address (another client than 127.0.0.1). */
function getFrom(
  localAddress: string,
  port: number,
  headers: Record<string, string>,
): Promise<{ status: number; retryAfter?: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/queues', localAddress, headers }, (res) => {
      res.resume();
      res.on('end', () =>
        resolvePromise({
          status: res.statusCode ?? 0,
          ...(res.headers['retry-after'] ? { retryAfter: String(res.headers['retry-after']) } : {}),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('failed logins on the real dashboard', () => {
  it(
    'are throttled per client: after 10 wrong guesses, 429 with ' +
      'Retry-After even for the right password; another client is not; after ' +
      'the wait a right login works',
    async () => {
      const redis = connectRedis();
      const dashboard = await startDashboard({
        connection: redis,
        prefix: `dash-${randomUUID().slice(0, 8)}`,
        port: 0,
        username: USER,
        password: PASSWORD,
      });
      try {
        const wrong = basic(USER, 'not the password at all');
        const started = Date.now();
        const statuses: number[] = [];
        let retryAfter: string | undefined;
        // As fast as one client can: before the throttle, every one of these was checked (~1,500/s measured).
        while (Date.now() - started < 2000) {
          const reply = await getFrom('127.0.0.1', dashboard.port, wrong);
          statuses.push(reply.status);
          retryAfter ??= reply.retryAfter;
        }
        const checked = statuses.filter((s) => s === 401).length;
        console.log(`failed logins: ${statuses.length} requests in 2 s, ${checked} had their password checked`);
        expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
        expect(statuses[10]).toBe(429);
        expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
        expect(checked).toBeLessThanOrEqual(13);

        expect((await getFrom('127.0.0.1', dashboard.port, GOOD)).status).toBe(429);
        expect((await getFrom('127.0.0.2', dashboard.port, GOOD)).status).toBe(200);

        const wait = Number((await getFrom('127.0.0.1', dashboard.port, GOOD)).retryAfter ?? '0');
        await new Promise((r) => setTimeout(r, wait * 1000 + 100));
        expect((await getFrom('127.0.0.1', dashboard.port, GOOD)).status).toBe(200);
        // A success forgets the failures: the next wrong guess is a free one again.
        expect((await getFrom('127.0.0.1', dashboard.port, wrong)).status).toBe(401);
      } finally {
        await dashboard.close();
        await redis.quit();
      }
    },
    60_000,
  );
});

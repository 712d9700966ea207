import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/store.js';
import { loadConfig } from '../../src/config/load.js';
import { readEvents } from '../../src/queue/events.js';
import { connectRedis } from '../../src/queue/redis.js';
import { labUp } from '../../tools/lab/lab.js';
import type { Lab } from '../../tools/lab/lab.js';
import { startHarness } from './harness.js';
import type { Harness } from './harness.js';

const PORT = 6391;
const URL = `redis://127.0.0.1:${PORT}`;

/** A Redis of the test's own, with the persistence the README asks for (the machine's keeps nothing). */
async function startRedis(dir: string): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(PORT),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--save',
      '',
      '--maxmemory-policy',
      'noeviction',
    ],
    {
      stdio: 'ignore',
    },
  );
  const probe = connectRedis(URL);
  probe.on('error', () => undefined);
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const ok = await Promise.race([
        probe.ping().then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 500)),
      ]);
      if (ok) return child;
      if (Date.now() > deadline) throw new Error('redis-server did not start');
    }
  } finally {
    probe.disconnect();
  }
}

describe('Redis restarted during a cluster create', () => {
  let lab: Lab;
  let dir: string;
  let redis: ChildProcess;
  let harness: Harness;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'warren-redis-'));
    redis = await startRedis(dir);
    lab = await labUp(3);
    harness = await startHarness(await loadConfig(lab.configPath), {
      redisUrl: URL,
      attempts: 3,
      backoffMs: 500,
      lockDurationMs: 5000,
    });
  }, 240_000);

  afterAll(async () => {
    await harness?.close();
    redis?.kill('SIGKILL');
    await lab?.down();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it(
    'loses no job, event or audit entry: worker and reader reconnect by ' + 'themselves and the job completes',
    async () => {
      const queued = await harness.enqueue('lab');
      if (queued.status !== 'queued') throw new Error('busy');
      // An audit entry written before the crash must be there after it (AOF, fsync always).
      const audit = new AuditLog(harness.redis, harness.prefix);
      const auditEntry = {
        event: 'refused',
        operation: 'node.reset',
        cluster: 'lab',
        node: 'lab1',
        actor: 'U0AUDIT01',
        via: 'slack',
        detail: 'written before Redis died',
      } as const;
      await audit.append({ ...auditEntry, at: new Date().toISOString() });

      // Wait until the joins are under way, then kill Redis hard and bring it back from its AOF.
      const watcher = connectRedis(URL);
      watcher.on('error', () => undefined);
      let last = '0';
      const deadline = Date.now() + 120_000;
      let joining = false;
      while (!joining && Date.now() < deadline) {
        for (const { id, event } of await readEvents(watcher, harness.prefix, queued.jobId, last, { blockMs: 500 })) {
          last = id;
          if (event.type === 'step' && event.step === 'rabbit:join' && event.state === 'running') joining = true;
        }
      }
      watcher.disconnect();
      expect(joining).toBe(true);
      redis.kill('SIGKILL');
      await once(redis, 'exit');
      await new Promise((r) => setTimeout(r, 2000));
      redis = await startRedis(dir);

      const { final, events } = await harness.waitForEnd(queued.jobId, 180_000);
      expect(final.state).toBe('completed');
      // The stream kept everything from before the crash: the queued event and every step's start.
      expect(events[0]?.event).toMatchObject({ type: 'job', state: 'queued' });
      for (const step of ['rabbit:preflight', 'rabbit:membership', 'rabbit:cookie', 'rabbit:join', 'rabbit:verify']) {
        expect(events.some((e) => e.event.type === 'step' && e.event.step === step)).toBe(true);
      }
      // The audit log kept the entry from before the crash, and takes new ones after it.
      await audit.append({ ...auditEntry, at: new Date().toISOString(), detail: 'written after Redis came back' });
      expect((await audit.latest({ cluster: 'lab' })).map((e) => e.entry.detail)).toEqual([
        'written before Redis died',
        'written after Redis came back',
      ]);
      const job = await harness.queue.getJob(queued.jobId);
      expect(await job?.getState()).toBe('completed');

      for (const i of [1, 2, 3]) {
        const status = await lab.exec(i, 'rabbitmqctl cluster_status --formatter json </dev/null');
        expect((JSON.parse(status.stdout) as { running_nodes: string[] }).running_nodes.sort()).toEqual([
          'rabbit@lab1',
          'rabbit@lab2',
          'rabbit@lab3',
        ]);
      }
    },
    300_000,
  );
});

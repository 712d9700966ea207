import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { startObservabilityServer } from '../../src/observability/server.js';
import { connectRedis } from '../../src/queue/redis.js';
import { heartbeatKey, startHeartbeat, startWorker, workerHealth } from '../../src/queue/worker.js';
import { operations } from '../../jobs/index.js';

describe('worker /healthz and /metrics', () => {
  it('is healthy with Redis answering, and unhealthy (503, naming redis) when Redis does not', async () => {
    const config = await loadConfig('config/warren.example.yaml');
    const metrics = createMetrics();
    const good = connectRedis();
    // Nothing listens there: ioredis queues commands and keeps reconnecting, as during a Redis outage.
    const dead = connectRedis('redis://127.0.0.1:6399');
    dead.on('error', () => undefined);
    const prefix = `obs-${randomUUID().slice(0, 8)}`;
    const running = await startWorker({ operations, config, connection: good, prefix, metrics });
    const healthy = await startObservabilityServer({
      port: 0,
      host: '127.0.0.1',
      registry: metrics.registry,
      health: () => workerHealth(running, good),
    });
    const unhealthy = await startObservabilityServer({
      port: 0,
      host: '127.0.0.1',
      registry: metrics.registry,
      health: () => workerHealth(running, dead),
    });
    try {
      const ok = await fetch(`http://127.0.0.1:${healthy.port}/healthz`);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ healthy: true, checks: { redis: { ok: true }, worker: { ok: true } } });

      const bad = await fetch(`http://127.0.0.1:${unhealthy.port}/healthz`);
      expect(bad.status).toBe(503);
      expect(await bad.json()).toMatchObject({ healthy: false, checks: { redis: { ok: false } } });

      const scrape = await fetch(`http://127.0.0.1:${healthy.port}/metrics`);
      expect(scrape.headers.get('content-type')).toMatch(/text\/plain/);
      const text = await scrape.text();
      expect(text).toContain('# TYPE warren_jobs_total counter');
      expect(text).toContain('# TYPE warren_ssh_command_duration_seconds histogram');
      expect(text).toContain('warren_process_cpu_seconds_total');
      expect((await fetch(`http://127.0.0.1:${healthy.port}/nope`)).status).toBe(404);
    } finally {
      await healthy.close();
      await unhealthy.close();
      await running.close();
      good.disconnect();
      dead.disconnect();
    }
  });

  it('keeps a heartbeat in Redis while the worker lives, and removes it when it stops', async () => {
    const redis = connectRedis();
    const prefix = `obs-${randomUUID().slice(0, 8)}`;
    const stop = startHeartbeat(redis, prefix, 'w1');
    try {
      await new Promise((r) => setTimeout(r, 200));
      expect(await redis.get(heartbeatKey(prefix, 'w1'))).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(await redis.ttl(heartbeatKey(prefix, 'w1'))).toBeGreaterThan(20);
    } finally {
      await stop();
    }
    expect(await redis.exists(heartbeatKey(prefix, 'w1'))).toBe(0);
    redis.disconnect();
  });

  it('the worker command refuses a WARREN_METRICS_PORT another process holds, naming the port, as no bug', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '0.0.0.0', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const child = spawn(
        'node',
        [
          'dist/src/cli/bin.js',
          '--config',
          'config/warren.example.yaml',
          '--prefix',
          `obs-${randomUUID().slice(0, 8)}`,
          'worker',
        ],
        { env: { ...process.env, WARREN_METRICS_PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).not.toBe(0);
      expect(output).toContain(
        `listen.failed: cannot listen on 0.0.0.0:${port}: another process already uses that port`,
      );
      expect(output).toContain('WARREN_METRICS_PORT');
      expect(output).not.toContain('bug in warren');
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  }, 30_000);

  it('the worker command serves both on WARREN_METRICS_PORT', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const child = spawn(
      'node',
      [
        'dist/src/cli/bin.js',
        '--config',
        'config/warren.example.yaml',
        '--prefix',
        `obs-${randomUUID().slice(0, 8)}`,
        'worker',
      ],
      {
        env: { ...process.env, WARREN_METRICS_PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      const deadline = Date.now() + 20_000;
      while (!output.includes('worker ready') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toContain('warren_jobs_total');
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  }, 30_000);
});

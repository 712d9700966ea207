/**
 * On the lab: a create through the harness against a Redis of the test's own (every key it wrote
 * is under the run's prefix), then `/rabbit status` through the real bot while a node has just gone
 * silent (its link down: packets dropped, no RST): the first card comes within 10 s naming the
 * silent node, and the same card is updated when the full reading arrives.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { connectRedis } from '../../src/queue/redis.js';
import { readClusterStatus } from '../../src/status/read-cluster-status.js';
import { labUp } from '../../tools/lab/lab.js';
import type { Lab } from '../../tools/lab/lab.js';
import { CHANNEL, OPERATOR, startSlackHarness } from '../../tools/slack-emulator/harness.js';
import type { SlackHarness } from '../../tools/slack-emulator/harness.js';
import { startHarness } from './harness.js';

/** A Redis of the test's own on a Unix socket (no TCP port), so a scan sees only what this run wrote. */
async function startPrivateRedis(dir: string): Promise<{ child: ChildProcess; socket: string }> {
  const socket = join(dir, 'redis.sock');
  const child = spawn(
    'redis-server',
    ['--port', '0', '--unixsocket', socket, '--dir', dir, '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = connectRedis(socket);
    probe.on('error', () => undefined);
    const ok = await Promise.race([
      probe.ping().then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((r) => setTimeout(() => r(false), 500)),
    ]);
    probe.disconnect();
    if (ok) return { child, socket };
    if (Date.now() > deadline) throw new Error('redis-server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('status under a fresh silent partition, and the prefix', () => {
  let lab: Lab;
  let dir: string;
  let redis: { child: ChildProcess; socket: string } | undefined;
  let slack: SlackHarness | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'warren-status-'));
    redis = await startPrivateRedis(dir);
    lab = await labUp(3);
  }, 240_000);

  afterAll(async () => {
    await slack?.close();
    await lab?.heal(3).catch(() => undefined);
    redis?.child.kill('SIGKILL');
    await lab?.down();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it('a create writes every Redis key under its prefix', async () => {
    const harness = await startHarness(await loadConfig(lab.configPath), { redisUrl: redis!.socket });
    try {
      const { jobId, final } = await harness.create('lab');
      expect(final.state).toBe('completed');
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await harness.redis.scan(cursor, 'COUNT', 1000);
        keys.push(...batch);
        cursor = next;
      } while (cursor !== '0');
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.filter((k) => !k.startsWith(`${harness.prefix}:`))).toEqual([]);
      // The job id from the enqueue, not BullMQ's completed list: the final event is written before
      // BullMQ moves the job to completed, so that list can still be empty here.
      expect(keys).toContain(`${harness.prefix}:events:${jobId}`);
    } finally {
      await harness.close();
    }
  }, 300_000);

  it(
    'answers within 10 s naming the silent node, then updates the same ' +
      'card with the full reading; warren status says the same on stderr ' +
      'meanwhile',
    async () => {
      const labConfig = await loadConfig(lab.configPath);
      slack = await startSlackHarness({
        config: {
          ...labConfig,
          slack: { ...labConfig.slack, channels: [CHANNEL], users: { [OPERATOR]: ['operator'] } },
        },
        readClusterStatus: (config, cluster, options) => readClusterStatus(config, cluster, options),
      });
      await lab.isolate(3);
      const asked = Date.now();
      // The CLI, at the same moment: what is known on stderr early, the full reading on stdout, bounded.
      const cli = spawn('node', ['dist/src/cli/bin.js', '--config', lab.configPath, 'status', 'lab'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let cliOut = '';
      let cliErr = '';
      let cliEarlyAfterMs: number | undefined;
      cli.stdout.on('data', (d: Buffer) => (cliOut += d.toString()));
      cli.stderr.on('data', (d: Buffer) => {
        cliErr += d.toString();
        if (cliEarlyAfterMs === undefined && cliErr.includes('NOT ANSWERING')) cliEarlyAfterMs = Date.now() - asked;
      });
      const cliExit = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));
      const reply = await slack.driver.slashCommand({ text: 'status lab', user: OPERATOR });
      expect(reply.status).toBe(200);
      const first = await slack.emulator.waitFor(
        () => slack!.emulator.channelMessages(CHANNEL)[0],
        'the first status card',
        15_000,
      );
      const firstAfterMs = Date.now() - asked;
      expect(firstAfterMs).toBeLessThan(10_000);
      expect(first.text).toMatch(/lab3 \(rabbit@lab3\) is not answering/);
      expect(JSON.stringify(first.blocks)).toContain('not answering: lab3');

      // The full reading (cluster_status waits out Erlang's net_ticktime for lab3) replaces it in place.
      const updated = await slack.emulator.waitFor(
        () =>
          slack!.emulator.callsOf('chat.update').length > 0 ? slack!.emulator.message(CHANNEL, first.ts) : undefined,
        'the card updated with the full reading',
        120_000,
      );
      const fullAfterMs = Date.now() - asked;
      expect(slack.emulator.channelMessages(CHANNEL)).toHaveLength(1);
      expect(JSON.stringify(updated.blocks)).not.toContain('partial reading');
      expect(JSON.stringify(updated.blocks)).toContain('read from');
      expect(updated.text).toMatch(/rabbit@lab3/);
      const cliCode = await cliExit;
      const cliAfterMs = Date.now() - asked;
      expect(cliEarlyAfterMs, cliErr).toBeDefined();
      expect(cliEarlyAfterMs!).toBeLessThan(10_000);
      expect(cliErr).toMatch(/rabbit@lab3\s+NOT ANSWERING/);
      expect(cliOut).not.toContain('partial reading');
      expect(cliOut).toContain('rabbit@lab3');
      expect(cliCode).toBe(1);
      expect(cliAfterMs).toBeLessThan(110_000);
      console.log(
        `status under a silent partition: first card after ${firstAfterMs} ms, ` +
          `full reading after ${fullAfterMs} ms; CLI early after ` +
          `${cliEarlyAfterMs} ms, done after ${cliAfterMs} ms`,
      );
    },
    180_000,
  );
});

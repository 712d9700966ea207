import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '../../src/queue/redis.js';
import { heartbeatKey } from '../../src/queue/worker.js';
import { SlackDriver } from '../../tools/slack-emulator/driver.js';
import { SlackEmulator } from '../../tools/slack-emulator/emulator.js';
import { OPERATOR, SIGNING_SECRET } from '../../tools/slack-emulator/harness.js';

const CHILD = fileURLToPath(new URL('./bot-processes.child.ts', import.meta.url));

interface Bot {
  child: ChildProcessByStdio<null, Readable, Readable>;
  logs: Record<string, unknown>[];
  ready: Promise<{ port: number; pids: number[] }>;
  exited: Promise<number | null>;
}

/** `warren bot` with WARREN_BOT_PROCESSES, as a real process tree: primary plus bot processes. */
function spawnBot(env: Record<string, string>): Bot {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const logs: Record<string, unknown>[] = [];
  let errBuffer = '';
  child.stderr.on('data', (chunk: Buffer) => {
    errBuffer += chunk.toString();
    const lines = errBuffer.split('\n');
    errBuffer = lines.pop() ?? '';
    for (const line of lines.filter(Boolean)) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ msg: line });
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<{ port: number; pids: number[] }>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /READY (.*)\n/.exec(out);
      if (match) resolve(JSON.parse(match[1]) as { port: number; pids: number[] });
    });
    void exited.then((code) => reject(new Error(`bot exited with ${code} before it was ready: ${JSON.stringify(logs.slice(-5))}`)));
  });
  return { child, logs, ready, exited };
}

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pids that logged an accepted command (every bot log line carries its process's pid). */
function acceptedPids(logs: Record<string, unknown>[], since = 0): Set<number> {
  return new Set(logs.slice(since).filter((l) => l.msg === 'slack command accepted').map((l) => l.pid as number));
}

function helpCount(metrics: string): number {
  const match = /^warren_slack_commands_total\{command="help",outcome="accepted"\} (\d+)$/m.exec(metrics);
  return match ? Number(match[1]) : 0;
}

describe('the bot as several processes on one port (WARREN_BOT_PROCESSES=2)', () => {
  const prefix = `test-botproc-${randomUUID().slice(0, 8)}`;
  const redis = connectRedis();
  let emulator: SlackEmulator;
  let bot: Bot;
  let port: number;
  let pids: number[];
  let driver: SlackDriver;

  const burst = (n: number) => Promise.all(Array.from({ length: n }, () => driver.slashCommand({ text: 'help', user: OPERATOR })));

  beforeAll(async () => {
    emulator = await SlackEmulator.start();
    // /healthz also wants a worker's heartbeat; this test has no worker, so it writes one.
    await redis.set(heartbeatKey(prefix, 'test'), new Date().toISOString(), 'EX', 300);
    bot = spawnBot({
      TEST_PREFIX: prefix,
      WARREN_BOT_PROCESSES: '2',
      SLACK_BOT_TOKEN: emulator.botToken,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: emulator.apiUrl,
      PORT: '0',
      SLACK_APP_TOKEN: '',
    });
    ({ port, pids } = await bot.ready);
    driver = new SlackDriver({ emulator, signingSecret: SIGNING_SECRET, botUrl: `http://127.0.0.1:${port}/slack/events` });
  }, 60_000);

  afterAll(async () => {
    if (bot.child.exitCode === null) bot.child.kill('SIGKILL');
    for (const pid of pids ?? []) if (alive(pid)) process.kill(pid, 'SIGKILL');
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await emulator.close();
  });

  it('starts two bot processes on one port, and a burst is answered by both', async () => {
    expect(pids).toHaveLength(2);
    expect(pids).not.toContain(bot.child.pid);
    const replies = await burst(40);
    expect(replies.map((r) => r.status)).toEqual(Array(40).fill(200));
    const answered = await until('40 accepted commands in the logs', () => bot.logs.filter((l) => l.msg === 'slack command accepted').length >= 40 && acceptedPids(bot.logs));
    expect([...answered].sort()).toEqual([...pids].sort());
  });

  it('serves /metrics as the sum of every process, whichever process takes the scrape', async () => {
    // Six scrapes over fresh connections land on both processes; each one alone holds part of the 40.
    const scrapes = await Promise.all(Array.from({ length: 6 }, () => fetch(`http://127.0.0.1:${port}/metrics`, { headers: { connection: 'close' } }).then(async (r) => ({ status: r.status, text: await r.text() }))));
    expect(scrapes.map((s) => s.status)).toEqual(Array(6).fill(200));
    expect(scrapes.map((s) => helpCount(s.text))).toEqual(Array(6).fill(40));
    // Process metrics are summed too: two processes' resident memory, not one's.
    expect(scrapes[0].text).toMatch(/^warren_process_resident_memory_bytes \d+/m);
  });

  it('answers /healthz from any process', async () => {
    const checks = await Promise.all(Array.from({ length: 6 }, () => fetch(`http://127.0.0.1:${port}/healthz`, { headers: { connection: 'close' } }).then(async (r) => ({ status: r.status, body: (await r.json()) as { healthy: boolean } }))));
    expect(checks.map((c) => [c.status, c.body.healthy])).toEqual(Array(6).fill([200, true]));
  });

  it('replaces a bot process that dies, and the new one takes commands', async () => {
    const [victim, survivor] = pids;
    process.kill(victim, 'SIGKILL');
    const replacement = await until('a replacement process', () => bot.logs.find((l) => l.msg === 'bot process ready' && l.pid !== undefined && !pids.includes(l.pid as number) && l.pid !== bot.child.pid)?.pid as number | undefined);
    expect(bot.logs.some((l) => l.msg === 'bot process died; starting another' && l.pid === victim && l.signal === 'SIGKILL')).toBe(true);
    pids = [survivor, replacement];
    const since = bot.logs.length;
    const replies = await burst(40);
    expect(replies.map((r) => r.status)).toEqual(Array(40).fill(200));
    const answered = await until('40 more accepted commands', () => bot.logs.slice(since).filter((l) => l.msg === 'slack command accepted').length >= 40 && acceptedPids(bot.logs, since));
    expect([...answered].sort()).toEqual([...pids].sort());
    // The dead process's counts died with it; the two living ones still sum: 40 new plus the survivor's earlier share.
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(helpCount(metrics)).toBeGreaterThanOrEqual(40);
    expect(helpCount(metrics)).toBeLessThan(80);
  });

  it('closes every process gracefully on SIGTERM to the primary', async () => {
    bot.child.kill('SIGTERM');
    expect(await bot.exited).toBe(0);
    for (const pid of pids) expect(alive(pid)).toBe(false);
    for (const pid of pids) expect(bot.logs.some((l) => l.msg === 'closing bot process' && l.pid === pid && l.reason === 'primary')).toBe(true);
    expect(bot.logs.filter((l) => l.msg === 'bot process died; starting another')).toHaveLength(1);
  });
});

describe('a bot process that cannot start', () => {
  it('stops the others and fails the start, naming the cause in the log', async () => {
    const emulator = await SlackEmulator.start();
    try {
      // A signing secret the env schema refuses: every bot process fails in startBot.
      const bot = spawnBot({ TEST_PREFIX: `test-botproc-${randomUUID().slice(0, 8)}`, WARREN_BOT_PROCESSES: '2', SLACK_BOT_TOKEN: emulator.botToken, SLACK_SIGNING_SECRET: 'short', SLACK_API_URL: emulator.apiUrl, PORT: '0', SLACK_APP_TOKEN: '' });
      await expect(bot.ready).rejects.toThrow(/exited with 1/);
      expect(await bot.exited).toBe(1);
      const failure = bot.logs.find((l) => l.msg === 'bot did not start' && l.pid === bot.child.pid);
      expect(failure?.err).toMatch(/exited before it was ready/);
      expect(bot.logs.some((l) => l.msg === 'bot did not start' && l.pid !== bot.child.pid && /SLACK_SIGNING_SECRET/.test(String(l.err)))).toBe(true);
    } finally {
      await emulator.close();
    }
  });
});

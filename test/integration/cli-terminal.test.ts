/**
 * The real CLI (dist/, build first) prints host data without control characters: the audit log
 * (text and --json) and a followed job whose events carry ANSI sequences, C0/C1 characters and
 * bidi overrides in details, errors and stderr. Real Redis under a fresh prefix; no worker: the
 * events are published as a worker would.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/store.js';
import { publishEvent } from '../../src/queue/events.js';
import { openOperationsQueue } from '../../src/queue/queue.js';
import { connectRedis } from '../../src/queue/redis.js';
import { eventsKey } from '../../src/queue/events.js';
import type { ProgressEvent } from '../../src/operations/progress.js';
import { TERMINAL_FORBIDDEN } from '../slack/escaping.js';

const CLI = 'dist/src/cli/bin.js';
const CONFIG = 'config/warren.example.yaml';
const HOSTILE =
  '\u001b[2J\u001b[31mred\u001b[0m \u001b]0;owned\u0007 \u009b1A \r\u0000\u0008 \u202egnp.exe <!channel> \ud800 ok';

const redis = connectRedis();
const prefix = `test-cli-term-${randomUUID().slice(0, 8)}`;
const cleanup: string[] = [];

afterEach(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length + cleanup.length > 0) await redis.del(...keys, ...cleanup);
  cleanup.length = 0;
});

afterAll(() => {
  redis.disconnect();
});

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], whileRunning?: () => Promise<void>): Promise<Ran> {
  const child = spawn('node', [CLI, '--config', CONFIG, '--prefix', prefix, ...args], {
    env: { ...process.env, LOG_LEVEL: 'silent' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<Ran>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return (async () => {
    try {
      await whileRunning?.();
    } catch (error) {
      child.kill('SIGTERM');
      throw error;
    }
    return exited;
  })();
}

function forbiddenIn(text: string): string | null {
  const found = TERMINAL_FORBIDDEN.exec(text);
  return found ? JSON.stringify(text.slice(Math.max(0, found.index - 20), found.index + 20)) : null;
}

describe('the CLI prints host data to a terminal', () => {
  it('a usage error goes to stderr through the same filter, once, with exit 2', async () => {
    const ran = await run(['audit', '--limit', '0']);
    expect(ran).toEqual({ code: 2, stdout: '', stderr: '--limit must be a whole number from 1 to 10000\n' });
  });

  it('audit: no control character in the text or --json output; the JSON keeps the data', async () => {
    await new AuditLog(redis, prefix).append({
      at: new Date().toISOString(),
      event: 'failed',
      operation: 'node.reset',
      cluster: 'prod-mq',
      node: 'mq3',
      actor: 'cli:ops',
      via: 'worker',
      detail: HOSTILE,
    });

    const text = await run(['audit']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('red');
    expect(forbiddenIn(text.stdout + text.stderr)).toBeNull();

    const json = await run(['audit', '--json']);
    expect(json.code).toBe(0);
    expect(forbiddenIn(json.stdout)).toBeNull();
    const [entry] = JSON.parse(json.stdout) as { entry: { detail: string } }[];
    // What the host sent is still all there, as \u escapes a terminal does not act on.
    expect(entry.entry.detail).toBe(HOSTILE);
  });

  it('a followed job: no control character from step details, errors or stderr', async () => {
    const queue = openOperationsQueue(redis, prefix);
    try {
      const result = await run(['cluster', 'create', 'prod-mq'], async () => {
        let jobId: string | undefined;
        for (let i = 0; i < 1500 && !jobId; i += 1) {
          jobId = (await queue.getJobs(['waiting']))[0]?.id;
          if (!jobId) await new Promise((r) => setTimeout(r, 10));
        }
        if (!jobId) throw new Error('the CLI queued no job');
        cleanup.push(eventsKey(prefix, jobId));
        const base = { jobId, operation: 'cluster.create' as const, cluster: 'prod-mq', at: new Date().toISOString() };
        const error = {
          code: 'command.failed' as const,
          message: `join failed: ${HOSTILE}`,
          retryable: false,
          host: 'mq2',
          step: 'rabbit:join',
          evidence: {
            host: 'mq2',
            command: 'rabbitmqctl join_cluster rabbit@mq1',
            exitCode: 69,
            stderr: `Error: ${HOSTILE}\nline two ${HOSTILE}`,
          },
          hint: HOSTILE,
        };
        const events: ProgressEvent[] = [
          { ...base, type: 'job', state: 'started', attempt: 1 },
          { ...base, type: 'step', step: 'rabbit:preflight', state: 'running' },
          {
            ...base,
            type: 'step',
            step: 'rabbit:preflight',
            state: 'done',
            host: 'mq1',
            durationMs: 10,
            detail: HOSTILE,
          },
          { ...base, type: 'step', step: 'rabbit:join', state: 'failed', durationMs: 10, detail: HOSTILE, error },
          { ...base, type: 'job', state: 'failed', attempt: 1, error },
        ];
        for (const event of events) await publishEvent(redis, prefix, event);
      });

      expect(result.code).toBe(1);
      expect(result.stdout).toContain('join failed');
      expect(result.stdout).toContain('gnp.exe');
      expect(forbiddenIn(result.stdout)).toBeNull();
      expect(forbiddenIn(result.stderr)).toBeNull();
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});

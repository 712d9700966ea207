/**
 * Ack latency of the HTTP receiver: rounds of 100 concurrent signed /rabbit commands, timed from
 * the request leaving to the whole response arriving (Bolt responds when the listener acks).
 *
 *   npx tsx bench/slack-ack/run.ts [--rounds 10] [--concurrency 100] [--mix "help,jobs"] [--baseline] [--processes N]
 *
 * The bot (bench/slack-ack/bot.ts) and the Slack emulator (emulator.ts) run in child processes of
 * their own, so this process only sends and times, over keep-alive connections as Slack's senders keep them. Commands are a
 * mix: creates (one queues, the rest find the cluster busy), status, jobs, help, a dry run and a
 * usage error, so the work each does after its ack loads the bot too. BENCH_CPU_PROF=<dir> writes
 * a CPU profile of the bot. --processes N (N > 1) runs the bot as N processes on one port
 * (bot-processes.ts: warren's runBotProcesses, as WARREN_BOT_PROCESSES=N does).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { signSlackRequest } from '../../tools/slack-emulator/driver.js';
import { CHANNEL, OPERATOR, SIGNING_SECRET } from '../../tools/slack-emulator/harness.js';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const ROUNDS = Number(option('rounds') ?? 10);
const CONCURRENCY = Number(option('concurrency') ?? 100);
const PROCESSES = Number(option('processes') ?? 1);
const MIX = option('mix')?.split(',') ?? ['cluster create rmq-lab', 'cluster create spare', 'status rmq-lab', 'status', 'jobs', 'help', 'cluster create rmq-lab --dry-run', 'cluster create $(reboot)'];

/** A child running one of this directory's scripts, and a way to wait for its tagged lines. */
function launch(script: string, env: Record<string, string> = {}, nodeArgs: string[] = []) {
  // BENCH_JS_DIR=<dir> runs the children from a compiled copy (`tsc --outDir <dir>`, plus
  // tools/slack-emulator/fixtures), as production runs; by default they run through tsx.
  const file = process.env.BENCH_JS_DIR ? `${process.env.BENCH_JS_DIR}/bench/slack-ack/${script.replace(/^\.\//, '').replace(/\.ts$/, '.js')}` : fileURLToPath(new URL(script, import.meta.url));
  const loader = process.env.BENCH_JS_DIR ? [] : ['--import', 'tsx'];
  const child = spawn(process.execPath, [...nodeArgs, ...loader, file], {
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, ...env },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  async function line(tag: string): Promise<string> {
    for (;;) {
      const match = new RegExp(`${tag} (.*)\\n`).exec(output);
      if (match) {
        output = output.slice(match.index + match[0].length);
        return match[1];
      }
      if (child.exitCode !== null) throw new Error(`${script} exited with ${child.exitCode}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  return { child, line };
}

// Slack is remote: the emulator gets its own process, off the bot's event loop.
const emulator = launch('./emulator.ts');
const slack = JSON.parse(await emulator.line('READY')) as { apiUrl: string; botToken: string; responseUrl: string };
const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
// --baseline: a bare signed-request server instead of the bot, to show what the machine itself costs.
const script = args.includes('--baseline') ? './baseline.ts' : PROCESSES > 1 ? './bot-processes.ts' : './bot.ts';
const bot = launch(script, { SLACK_API_URL: slack.apiUrl, SLACK_BOT_TOKEN: slack.botToken, BENCH_BOT_PROCESSES: String(PROCESSES) }, profile);
const ready = JSON.parse(await bot.line('READY')) as { port: number };
// Each command gets its own response_url on the emulator, as Slack gives each its own.
const responseUrlBase = slack.responseUrl.replace(/[^/]+$/, '');
const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function send(text: string, n: number): Promise<{ ms: number; status: number; text: string }> {
  const body = new URLSearchParams({
    token: 'gIkuvaNzQIHg97ATvDxqgjtO',
    team_id: 'T0001',
    team_domain: 'example',
    channel_id: CHANNEL,
    channel_name: 'ops',
    user_id: OPERATOR,
    user_name: 'steve',
    command: '/rabbit',
    text,
    api_app_id: 'A123456',
    is_enterprise_install: 'false',
    response_url: `${responseUrlBase}bench-${n}`,
    trigger_id: `${n}.1.abc`,
  }).toString();
  const ts = Math.floor(Date.now() / 1000);
  const headers = {
    'content-type': 'application/x-www-form-urlencoded',
    'content-length': Buffer.byteLength(body),
    'x-slack-request-timestamp': String(ts),
    'x-slack-signature': signSlackRequest(SIGNING_SECRET, ts, body),
  };
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request({ agent, host: '127.0.0.1', port: ready.port, path: '/slack/events', method: 'POST', headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ms: performance.now() - started, status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function round(r: number) {
  return Promise.all(
    Array.from({ length: CONCURRENCY }, (_, i) => {
      const n = (r + 1) * CONCURRENCY + i;
      return send(MIX[n % MIX.length], n);
    }),
  );
}

/** A process's resident memory from /proc (Linux), to set beside what several processes cost. */
function residentMb(pid: number | undefined): string {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? String(Math.round(Number(kb) / 1024)) : '?';
  } catch {
    return '?';
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

try {
  await round(-1); // warm-up: auth.test, JIT, connections
  await new Promise((r) => setTimeout(r, 500)); // let the warm-up's follow-ups drain
  bot.child.kill('SIGUSR2');
  await bot.line('STATS');
  const samples: { ms: number; status: number; text: string }[] = [];
  const loadBefore = loadavg()[0];
  // The generator shares the cores: its CPU per request is part of what a burst needs from the machine.
  const generatorSince = process.cpuUsage();
  for (let r = 0; r < ROUNDS; r += 1) samples.push(...(await round(r)));
  const generatorCpu = process.cpuUsage(generatorSince);
  bot.child.kill('SIGUSR2');
  // drainMs: absent from the baseline, which has no work after its answers. rssMb: with --processes, the primary's resident memory first, then each bot process's.
  const stats = JSON.parse(await bot.line('STATS')) as { serverMs: number[]; cpuMs: number; drainMs?: number; rssMb?: number[] };
  const server = stats.serverMs.sort((a, b) => a - b);
  const bad = samples.filter((s) => s.status !== 200);
  if (bad.length > 0) throw new Error(`${bad.length} requests were not answered 200`);
  const all = samples.map((s) => s.ms).sort((a, b) => a - b);
  const f = (ms: number) => ms.toFixed(1);
  const lines = [
    `server: ${args.includes('--baseline') ? 'baseline (bare node:http, signature check, empty answer)' : PROCESSES > 1 ? `warren bot as ${PROCESSES} processes on one port (runBotProcesses)` : 'warren bot (Bolt app on SlackHttpReceiver)'}`,
    '',
    `| measured at | requests | concurrency | p50 ms | p90 ms | p99 ms | max ms |`,
    `|---|---:|---:|---:|---:|---:|---:|`,
    `| client (request sent → response received) | ${all.length} | ${CONCURRENCY} | ${f(percentile(all, 50))} | ${f(percentile(all, 90))} | ${f(percentile(all, 99))} | ${f(all.at(-1)!)} |`,
    `| bot (request parsed → response written) | ${server.length} | ${CONCURRENCY} | ${f(percentile(server, 50))} | ${f(percentile(server, 90))} | ${f(percentile(server, 99))} | ${f(server.at(-1)!)} |`,
    '',
    `bot CPU per command (the ack and all the work after it${PROCESSES > 1 ? ', all processes and the primary' : ''}): ${(stats.cpuMs / all.length).toFixed(2)} ms${stats.drainMs === undefined ? '' : `; the work after the acks finished ${stats.drainMs.toFixed(0)} ms after the last round`}`,
    `load generator CPU per request (signing, sending, reading): ${((generatorCpu.user + generatorCpu.system) / 1000 / all.length).toFixed(2)} ms`,
    '',
    stats.rssMb ? `resident memory: primary ${stats.rssMb[0]} MiB, bot processes ${stats.rssMb.slice(1).join(', ')} MiB` : `resident memory: bot ${residentMb(bot.child.pid)} MiB`,
    '',
    `| command | client p50 ms | client p99 ms |`,
    `|---|---:|---:|`,
    ...MIX.map((text) => {
      const mine = samples.filter((s) => s.text === text).map((s) => s.ms).sort((a, b) => a - b);
      return `| \`/rabbit ${text}\` | ${f(percentile(mine, 50))} | ${f(percentile(mine, 99))} |`;
    }),
    '',
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, load average ${loadBefore.toFixed(2)} → ${loadavg()[0].toFixed(2)} (1 min)`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  agent.destroy();
  bot.child.kill('SIGTERM');
  emulator.child.kill('SIGTERM');
}

/**
 * Ack latency of the Slack HTTP receiver: rounds of 100 concurrent signed /rabbit commands, timed from
 * the request leaving to the whole response arriving (Bolt responds when the listener acks).
 *
 *   npx tsx bench/slack-ack/run.ts [--rounds 10] [--concurrency 100] [--mix "help,jobs"] [--baseline] [--bolt-floor]
 *
 * The bot (bench/slack-ack/bot.ts) and the Slack emulator (emulator.ts) run in child processes of
 * their own, so this process only sends and times, over keep-alive connections as Slack's senders
 * keep them. Commands are a mix: creates (one queues, the rest find the cluster busy), status, jobs,
 * help, a dry run and a usage error, so the work each does after its ack loads the bot too.
 * --baseline also starts a bare node:http server that only checks the signature (baseline.ts) and
 * measures it in the same run, a round of each in turn, so both meet the same machine; the report
 * sets the bot's p99 beside the baseline's and gives the ratio. After each round the server's own
 * follow-up work is waited for (and its CPU read), so one server's leftovers never load the other's
 * round. --bolt-floor adds a bare Bolt app that acks with an empty body (bolt-floor.ts): the floor
 * of the fixed stack, so the report can tell Bolt's own cost from what warren adds, and the same Bolt
 * behind warren's receiver (FLOOR_ACK=help: both floors ack with the bot's help answer).
 * BENCH_CPU_PROF=<dir> writes a CPU profile of the bot (of another server: BENCH_CPU_PROF_OF=<name>).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg, totalmem } from 'node:os';
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
const WITH_BASELINE = args.includes('--baseline');
const WITH_BOLT_FLOOR = args.includes('--bolt-floor');
const MIX = option('mix')?.split(',') ?? [
  'cluster create rmq-lab',
  'cluster create spare',
  'status rmq-lab',
  'status',
  'jobs',
  'help',
  'cluster create rmq-lab --dry-run',
  'cluster create $(reboot)',
];

/** A child running one of this directory's scripts, and a way to wait for its tagged lines. */
function launch(script: string, env: Record<string, string> = {}, nodeArgs: string[] = []) {
  // BENCH_JS_DIR=<dir> runs the children from a compiled copy (`tsc --outDir <dir>`, plus
  // tools/slack-emulator/fixtures), as production runs; by default they run through tsx.
  const file = process.env.BENCH_JS_DIR
    ? `${process.env.BENCH_JS_DIR}/bench/slack-ack/${script.replace(/^\.\//, '').replace(/\.ts$/, '.js')}`
    : fileURLToPath(new URL(script, import.meta.url));
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
const profileOf = (name: string): string[] =>
  process.env.BENCH_CPU_PROF && (process.env.BENCH_CPU_PROF_OF ?? 'bot') === name
    ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF]
    : [];
// Each command gets its own response_url on the emulator, as Slack gives each its own.
const responseUrlBase = slack.responseUrl.replace(/[^/]+$/, '');

interface Target {
  name: string;
  describe: string;
  process: ReturnType<typeof launch>;
  port: number;
  agent: Agent;
  samples: { ms: number; status: number; text: string }[];
  /** The p99 of each measured round, in round order: rounds of two servers with one index ran back to back. */
  roundP99: number[];
  serverMs: number[];
  cpuMs: number;
  drainMs: number;
}

async function start(
  name: string,
  script: string,
  describe: string,
  nodeArgs: string[] = [],
  env: Record<string, string> = {},
): Promise<Target> {
  const child = launch(script, { SLACK_API_URL: slack.apiUrl, SLACK_BOT_TOKEN: slack.botToken, ...env }, nodeArgs);
  const ready = JSON.parse(await child.line('READY')) as { port: number };
  return {
    name,
    describe,
    process: child,
    port: ready.port,
    agent: new Agent({ keepAlive: true, maxSockets: CONCURRENCY }),
    samples: [],
    roundP99: [],
    serverMs: [],
    cpuMs: 0,
    drainMs: 0,
  };
}

const targets: Target[] = [
  await start('bot', './bot.ts', "warren bot (Bolt's HTTPReceiver behind warren's delivery checks)", profileOf('bot')),
];
if (WITH_BASELINE)
  targets.push(await start('baseline', './baseline.ts', 'baseline (bare node:http, signature check, empty answer)'));
if (WITH_BOLT_FLOOR) {
  targets.push(await start('bolt-floor', './bolt-floor.ts', 'Bolt floor (bare Bolt app, one listener, empty ack)'));
  targets.push(
    await start(
      'receiver-floor',
      './bolt-floor.ts',
      "receiver floor (Bolt behind warren's receiver, one listener, empty ack)",
      profileOf('receiver-floor'),
      { FLOOR_RECEIVER: 'warren' },
    ),
  );
}

function send(target: Target, text: string, n: number): Promise<{ ms: number; status: number; text: string }> {
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
    response_url: `${responseUrlBase}bench-${target.name}-${n}`,
    trigger_id: `${n}.1.${target.name}`,
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
    const req = request(
      { agent: target.agent, host: '127.0.0.1', port: target.port, path: '/slack/events', method: 'POST', headers },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ ms: performance.now() - started, status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function round(target: Target, r: number) {
  return Promise.all(
    Array.from({ length: CONCURRENCY }, (_, i) => {
      const n = (r + 1) * CONCURRENCY + i;
      return send(target, MIX[n % MIX.length], n);
    }),
  );
}

/** The target's server times and CPU since the last call, once its work after the acks is done. */
async function collect(target: Target): Promise<{ serverMs: number[]; cpuMs: number; drainMs?: number }> {
  target.process.child.kill('SIGUSR2');
  return JSON.parse(await target.process.line('STATS')) as { serverMs: number[]; cpuMs: number; drainMs?: number };
}

/** A process's resident memory from /proc (Linux). */
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
  for (const target of targets) {
    await round(target, -1); // warm-up: auth.test, JIT, connections
    await collect(target);
  }
  const loadBefore = loadavg()[0];
  // The generator shares the cores: its CPU per request is part of what a burst needs from the machine.
  const generatorSince = process.cpuUsage();
  for (let r = 0; r < ROUNDS; r += 1) {
    // A round of each in turn: a change in the machine's load reaches both alike.
    for (const target of r % 2 === 0 ? targets : [...targets].reverse()) {
      const answers = await round(target, r);
      target.samples.push(...answers);
      target.roundP99.push(
        percentile(
          answers.map((a) => a.ms).sort((a, b) => a - b),
          99,
        ),
      );
      const stats = await collect(target);
      target.serverMs.push(...stats.serverMs);
      target.cpuMs += stats.cpuMs;
      target.drainMs = Math.max(target.drainMs, stats.drainMs ?? 0);
    }
  }
  const generatorCpu = process.cpuUsage(generatorSince);
  const requests = targets.reduce((sum, t) => sum + t.samples.length, 0);
  const f = (ms: number) => ms.toFixed(1);
  const p99 = (t: Target) =>
    percentile(
      t.samples.map((s) => s.ms).sort((a, b) => a - b),
      99,
    );
  const lines = [
    `mix: ${MIX.map((m) => `\`${m}\``).join(', ')}`,
    '',
    '| server | requests | concurrency | client p50 ms | client p90 ms | ' +
      'client p99 ms | max ms | server p99 ms | CPU / request ms | resident ' +
      'MiB |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const t of targets) {
    const bad = t.samples.filter((s) => s.status !== 200);
    if (bad.length > 0) throw new Error(`${t.name}: ${bad.length} requests were not answered 200`);
    const all = t.samples.map((s) => s.ms).sort((a, b) => a - b);
    const server = t.serverMs.sort((a, b) => a - b);
    lines.push(
      `| ${t.describe} | ${all.length} | ${CONCURRENCY} | ` +
        `${f(percentile(all, 50))} | ${f(percentile(all, 90))} | ` +
        `${f(percentile(all, 99))} | ${f(all.at(-1)!)} | ` +
        `${f(percentile(server, 99))} | ${(t.cpuMs / all.length).toFixed(2)} | ` +
        `${residentMb(t.process.child.pid)} |`,
    );
  }
  lines.push('');
  const cpuPerRequest = (t: Target) => t.cpuMs / t.samples.length;
  const named = (name: string) => targets.find((t) => t.name === name);
  // A burst that meets a spike of the machine's other work moves one p99 a lot; the same ratio taken
  // round by round (both servers' rounds ran back to back) and its median is steadier.
  const medianRoundRatio = (a: Target, b: Target) =>
    percentile(
      a.roundP99.map((ms, r) => ms / b.roundP99[r]).sort((x, y) => x - y),
      50,
    );
  const ratio = (a: Target, b: Target, label: string, target = '') =>
    `**p99 ratio ${label}: ${(p99(a) / p99(b)).toFixed(2)}**${target}; ` +
    `median over rounds of each round's p99 ratio: ${medianRoundRatio(a, b).toFixed(2)}; ` +
    `CPU per request ratio: ${(cpuPerRequest(a) / cpuPerRequest(b)).toFixed(2)}`;
  const baseline = named('baseline');
  const boltFloor = named('bolt-floor');
  const receiverFloor = named('receiver-floor');
  if (baseline) lines.push(ratio(targets[0], baseline, 'bot / baseline', ' (target ≤ 1.5)'), '');
  if (receiverFloor) lines.push(ratio(targets[0], receiverFloor, 'bot / receiver floor'), '');
  if (baseline && boltFloor) lines.push(ratio(boltFloor, baseline, 'Bolt floor / baseline'), '');
  if (baseline && receiverFloor) lines.push(ratio(receiverFloor, baseline, 'receiver floor / baseline'), '');
  lines.push(
    `bot CPU per request is the ack and all the work after it; the longest ` +
      `wait for that work after a round: ${targets[0].drainMs.toFixed(0)} ms`,
    `load generator CPU per request (signing, sending, reading): ` +
      `${((generatorCpu.user + generatorCpu.system) / 1000 / requests).toFixed(2)}` +
      ` ms`,
    '',
    '| command (bot) | client p50 ms | client p99 ms |',
    '|---|---:|---:|',
    ...MIX.map((text) => {
      const mine = targets[0].samples
        .filter((s) => s.text === text)
        .map((s) => s.ms)
        .sort((a, b) => a - b);
      return `| \`/rabbit ${text}\` | ${f(percentile(mine, 50))} | ${f(percentile(mine, 99))} |`;
    }),
    '',
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ` +
      `${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ` +
      `load average ${loadBefore.toFixed(2)} → ${loadavg()[0].toFixed(2)} (1 ` +
      `min)`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  for (const t of targets) {
    t.agent.destroy();
    t.process.child.kill('SIGTERM');
  }
  emulator.child.kill('SIGTERM');
}

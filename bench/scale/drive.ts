/**
 * The scale benchmark's driver (bench/scale/run.sh starts the workers and calls it): enqueues a
 * create of every cluster in the config at once, follows every job's event stream to its end, and
 * checks that one operation per cluster held:
 *   - each create is enqueued twice, concurrently: exactly one is queued, the other is told busy
 *     with that job's id;
 *   - `warren cluster create <cluster> --no-follow` (the CLI) for a queued cluster exits 3 (busy);
 *   - every 5 s while jobs run, another enqueue of a running cluster is refused as busy;
 *   - per cluster, the jobs' intervals (started → final event, and from the workers' logs: "job
 *     started" → end) never overlap, across both workers and both phases.
 * With --rerun, a second phase creates every (now formed) cluster again: the idempotent re-run.
 *
 *   npx tsx bench/scale/drive.ts --config C --prefix P --out DIR --worker w1=LOG --worker w2=LOG [--rerun]
 *
 * Writes DIR/drive.json (every job: worker, queued/started/ended, steps) and DIR/drive.md (tables);
 * exits 1 if any check failed.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { enqueueOperation } from '../../src/queue/enqueue.js';
import type { EnqueueResult } from '../../src/queue/enqueue.js';
import { isFinalEvent, readEvents } from '../../src/queue/events.js';
import { openOperationsQueue } from '../../src/queue/queue.js';
import type { OperationsQueue } from '../../src/queue/queue.js';
import { connectRedis } from '../../src/queue/redis.js';
import type { ProgressEvent } from '../../src/operations/progress.js';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const options = (name: string): string[] =>
  args.flatMap((a, i) => (a === `--${name}` && args[i + 1] !== undefined ? [args[i + 1]] : []));
const configPath = option('config');
const prefix = option('prefix');
const outDir = option('out');
if (configPath === undefined || prefix === undefined || outDir === undefined) {
  process.stderr.write(
    'usage: drive.ts --config C --prefix P --out DIR --worker NAME=LOG ... [--rerun] [--timeout-s 1800]\n',
  );
  process.exit(2);
}
const workerLogs = options('worker').map((w) => {
  const [name = '', log = ''] = w.split('=');
  return { name, log };
});
const TIMEOUT_MS = Number(option('timeout-s') ?? 1800) * 1000;
const CLI = path.resolve('dist/src/cli/bin.js');

interface TrackedJob {
  phase: string;
  cluster: string;
  jobId: string;
  enqueuedAt: number;
  lastEventId: string;
  events: ProgressEvent[];
  final?: ProgressEvent;
}

const failures: string[] = [];
const notes: string[] = [];
const fail = (why: string): void => {
  failures.push(why);
  process.stderr.write(`CHECK FAILED: ${why}\n`);
};
const log = (line: string): void => {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
};
const ms = (iso: string | undefined): number | undefined => (iso === undefined ? undefined : Date.parse(iso));
const sec = (n: number | undefined): string => (n === undefined ? '–' : (n / 1000).toFixed(1));

const config = await loadConfig(configPath);
const clusters = config.clusters.map((c) => c.name);
const redis = connectRedis();
const queue: OperationsQueue = openOperationsQueue(redis, prefix);
const jobs: TrackedJob[] = [];

function enqueue(cluster: string): Promise<EnqueueResult> {
  return enqueueOperation(queue, redis, {
    operation: 'cluster.create',
    cluster,
    origin: { kind: 'cli', user: 'bench-scale' },
    requestedAt: new Date().toISOString(),
  });
}

/** The CLI's answer for a cluster that already has an operation: exit 3, naming the job. */
function cliCreate(cluster: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'node',
      [
        CLI,
        '--config',
        configPath as string,
        '--prefix',
        prefix as string,
        'cluster',
        'create',
        cluster,
        '--no-follow',
      ],
      { timeout: 60_000 },
      (error, _stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stderr });
      },
    );
  });
}

async function readNew(job: TrackedJob): Promise<void> {
  for (const { id, event } of await readEvents(redis, prefix as string, job.jobId, job.lastEventId)) {
    job.lastEventId = id;
    job.events.push(event);
    if (isFinalEvent(event)) job.final = event;
  }
}

const busyProbes = { tried: 0, busy: 0 };

/** Another enqueue for a cluster whose job runs must be refused, naming that job. */
async function probeBusy(job: TrackedJob): Promise<void> {
  const before = Date.now();
  const r = await enqueue(job.cluster);
  busyProbes.tried += 1;
  if (r.status === 'busy' && r.jobId === job.jobId) {
    busyProbes.busy += 1;
    return;
  }
  if (r.status === 'queued') {
    // Legitimate only if the job ended just before this enqueue; the new job is followed too.
    await readNew(job);
    const ended = ms(job.final?.at);
    jobs.push({
      phase: job.phase,
      cluster: job.cluster,
      jobId: r.jobId,
      enqueuedAt: Date.now(),
      lastEventId: '0',
      events: [],
    });
    if (ended === undefined || ended > before)
      fail(`${job.cluster}: a second create was queued (${r.jobId}) while ${job.jobId} ran`);
    else
      notes.push(
        `${job.cluster}: probe raced the end of ${job.jobId}; its extra job ${r.jobId} is followed and checked too`,
      );
    return;
  }
  fail(`${job.cluster}: busy answer names ${r.jobId}, not the running ${job.jobId}`);
}

async function runPhase(phase: string): Promise<{ startedAt: number; wallMs: number }> {
  log(`${phase}: enqueueing ${clusters.length} creates at once (each twice, concurrently)`);
  const startedAt = Date.now();
  const answers = await Promise.all(clusters.flatMap((c) => [enqueue(c), enqueue(c)]));
  const enqueueMs = Date.now() - startedAt;
  const phaseJobs: TrackedJob[] = [];
  clusters.forEach((cluster, k) => {
    const pair = [answers[2 * k], answers[2 * k + 1]];
    const queued = pair.filter((a) => a?.status === 'queued');
    const busy = pair.filter((a) => a?.status === 'busy');
    const first = queued[0];
    if (queued.length !== 1 || busy.length !== 1 || first === undefined || busy[0]?.jobId !== first.jobId) {
      fail(
        `${phase} ${cluster}: two concurrent enqueues gave ` +
          `${JSON.stringify(pair.map((a) => a && { status: a.status, jobId: a.jobId }))}, ` +
          `want one queued and one busy naming it`,
      );
    }
    if (first !== undefined)
      phaseJobs.push({ phase, cluster, jobId: first.jobId, enqueuedAt: startedAt, lastEventId: '0', events: [] });
  });
  jobs.push(...phaseJobs);
  log(`${phase}: ${phaseJobs.length} queued in ${enqueueMs} ms`);

  const first = phaseJobs[0];
  if (first !== undefined) {
    const cli = await cliCreate(first.cluster);
    if (cli.code === 3 && cli.stderr.includes(first.jobId)) busyProbes.busy += 1;
    else
      fail(
        `${phase}: \`warren cluster create ${first.cluster} --no-follow\` gave ` +
          `exit ${cli.code} (${cli.stderr.trim()}), want 3 naming ${first.jobId}`,
      );
    busyProbes.tried += 1;
  }

  let lastProbe = Date.now();
  let lastReport = Date.now();
  for (;;) {
    const open = jobs.filter((j) => j.phase === phase && j.final === undefined);
    if (open.length === 0) break;
    if (Date.now() - startedAt > TIMEOUT_MS) {
      fail(
        `${phase}: ${open.length} jobs not finished after ${TIMEOUT_MS / 1000} ` +
          `s: ${open.map((j) => j.cluster).join(', ')}`,
      );
      break;
    }
    for (const job of open) await readNew(job);
    if (Date.now() - lastProbe >= 5000) {
      lastProbe = Date.now();
      const running = open.filter(
        (j) => j.final === undefined && j.events.some((e) => e.type === 'job' && e.state === 'started'),
      );
      const target = running[Math.floor(Math.random() * running.length)];
      if (target !== undefined) await probeBusy(target);
    }
    if (Date.now() - lastReport >= 30_000) {
      lastReport = Date.now();
      log(`${phase}: ${open.length} of ${phaseJobs.length} still running after ${sec(Date.now() - startedAt)} s`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  const ends = jobs.filter((j) => j.phase === phase).map((j) => ms(j.final?.at) ?? Date.now());
  const wallMs = Math.max(...ends) - startedAt;
  log(`${phase}: all ended, ${sec(wallMs)} s after the enqueue`);
  return { startedAt, wallMs };
}

/** Per worker log: which job it started (attempts) and when each attempt ended. */
interface WorkerSpan {
  worker: string;
  jobId: string;
  cluster: string;
  attempt: number;
  start: number;
  end?: number;
}

async function workerSpans(): Promise<WorkerSpan[]> {
  const spans: WorkerSpan[] = [];
  for (const { name, log: file } of workerLogs) {
    const open = new Map<string, WorkerSpan>();
    for (const line of (await readFile(file, 'utf8')).split('\n')) {
      if (!line.startsWith('{')) continue;
      let entry: { msg?: string; jobId?: string; cluster?: string; attempt?: number; time?: string };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        continue;
      }
      if (entry.jobId === undefined || entry.time === undefined) continue;
      const key = `${entry.jobId}#${entry.attempt ?? 0}`;
      if (entry.msg === 'job started') {
        const span = {
          worker: name,
          jobId: entry.jobId,
          cluster: entry.cluster ?? '?',
          attempt: entry.attempt ?? 0,
          start: Date.parse(entry.time),
        };
        open.set(key, span);
        spans.push(span);
      } else if (entry.msg === 'job completed' || entry.msg === 'job attempt failed') {
        const span = open.get(key);
        if (span) span.end = Date.parse(entry.time);
      }
    }
  }
  return spans;
}

/** Intervals per cluster must not overlap; returns the violations. */
function overlaps<T extends { cluster: string; start: number; end?: number }>(
  items: T[],
  describe: (t: T) => string,
): string[] {
  const byCluster = new Map<string, T[]>();
  for (const item of items) byCluster.set(item.cluster, [...(byCluster.get(item.cluster) ?? []), item]);
  const found: string[] = [];
  for (const [cluster, list] of byCluster) {
    const sorted = [...list].sort((a, b) => a.start - b.start);
    for (let k = 1; k < sorted.length; k++) {
      const prev = sorted[k - 1];
      const cur = sorted[k];
      if (prev.end === undefined || cur.start < prev.end)
        found.push(`${cluster}: ${describe(cur)} started before ${describe(prev)} ended`);
    }
  }
  return found;
}

const phases: Record<string, { startedAt: number; wallMs: number }> = {};
try {
  phases.create = await runPhase('create');
  if (args.includes('--rerun')) phases.rerun = await runPhase('rerun');
} finally {
  await queue.close();
  redis.disconnect();
}

// One operation per cluster, from the events: started (first attempt) → final event.
const eventSpans = jobs.map((j) => {
  const started = j.events.find((e) => e.type === 'job' && e.state === 'started');
  return {
    cluster: j.cluster,
    jobId: j.jobId,
    start: ms(started?.at) ?? Number.POSITIVE_INFINITY,
    end: ms(j.final?.at),
  };
});
for (const v of overlaps(eventSpans, (s) => `job ${s.jobId}`)) fail(`events: ${v}`);
const spans = await workerSpans();
for (const v of overlaps(spans, (s) => `job ${s.jobId} attempt ${s.attempt} on ${s.worker}`)) fail(`worker logs: ${v}`);
for (const j of jobs) {
  if (j.final?.type !== 'job' || j.final.state !== 'completed')
    fail(`${j.phase} ${j.cluster}: job ${j.jobId} ended ${j.final?.type === 'job' ? j.final.state : 'never'}`);
  if (!spans.some((s) => s.jobId === j.jobId))
    fail(`${j.phase} ${j.cluster}: job ${j.jobId} appears in no worker's log`);
}

const rows = jobs.map((j) => {
  const jobEvents = j.events.filter((e): e is Extract<ProgressEvent, { type: 'job' }> => e.type === 'job');
  // From the moment the enqueue was sent (the `queued` event is published after the add, so a
  // worker may already have started the job by then).
  const queuedAt = j.enqueuedAt;
  const startedAt = ms(jobEvents.find((e) => e.state === 'started')?.at);
  const endedAt = ms(j.final?.at);
  const steps = Object.fromEntries(
    j.events.flatMap((e) =>
      e.type === 'step' &&
      e.host === undefined &&
      e.durationMs !== undefined &&
      (e.state === 'done' || e.state === 'skipped')
        ? [[e.step, e.durationMs]]
        : [],
    ),
  );
  const ran = spans.filter((s) => s.jobId === j.jobId);
  return {
    phase: j.phase,
    cluster: j.cluster,
    jobId: j.jobId,
    worker: [...new Set(ran.map((s) => s.worker))].join('+') || '?',
    attempts: Math.max(0, ...jobEvents.map((e) => e.attempt)),
    state: j.final?.type === 'job' ? j.final.state : 'unfinished',
    waitMs: startedAt !== undefined ? startedAt - queuedAt : undefined,
    runMs: startedAt !== undefined && endedAt !== undefined ? endedAt - startedAt : undefined,
    totalMs: endedAt !== undefined ? endedAt - queuedAt : undefined,
    steps,
  };
});

const stepIds = [...new Set(rows.flatMap((r) => Object.keys(r.steps)))];
const md: string[] = [];
for (const [phase, p] of Object.entries(phases)) {
  const mine = rows.filter((r) => r.phase === phase).sort((a, b) => a.cluster.localeCompare(b.cluster));
  const totals = mine.map((r) => r.totalMs ?? 0).sort((a, b) => a - b);
  const perWorker = workerLogs.map((w) => `${w.name}: ${mine.filter((r) => r.worker === w.name).length}`).join(', ');
  md.push(
    `**${phase}**: ${mine.length} jobs, wall time ${sec(p.wallMs)} s ` +
      `(enqueue of all → last job ended); per create (enqueued → ended) min ` +
      `${sec(totals[0])} / median ` +
      `${sec(totals[Math.floor(totals.length / 2)])} / max ` +
      `${sec(totals[totals.length - 1])} s; jobs per worker: ${perWorker}.`,
  );
  md.push('');
  md.push(
    `| cluster | worker | attempts | waited (s) | ran (s) | enqueued → ` +
      `ended (s) | ` +
      `${stepIds.map((s) => s.replace('rabbit:', '')).join(' | ')} |`,
  );
  md.push(`|---|---|---|---|---|---|${stepIds.map(() => '---|').join('')}`);
  for (const r of mine) {
    md.push(
      `| ${r.cluster} | ${r.worker} | ${r.attempts} | ${sec(r.waitMs)} | ` +
        `${sec(r.runMs)} | ${sec(r.totalMs)} | ` +
        `${stepIds.map((s) => sec(r.steps[s])).join(' | ')} |`,
    );
  }
  md.push('');
}
md.push(
  `One operation per cluster: ` +
    `${clusters.length * Object.keys(phases).length} concurrent duplicate ` +
    `enqueues all answered busy with the queued job's id; ` +
    `${busyProbes.busy} of ${busyProbes.tried} later creates of a queued ` +
    `or running cluster (one through the CLI, exit 3) answered busy; ` +
    (`per-cluster intervals overlap-free from the events (` +
      `${eventSpans.length} jobs) and from the workers' logs (${spans.length}` +
      ` attempts).`),
);
for (const n of notes) md.push(`- ${n}`);
if (failures.length > 0) md.push('', `**Checks failed (${failures.length}):**`, ...failures.map((f) => `- ${f}`));

await writeFile(
  path.join(outDir, 'drive.json'),
  JSON.stringify({ phases, rows, spans, busyProbes, notes, failures }, null, 2),
);
await writeFile(path.join(outDir, 'drive.md'), `${md.join('\n')}\n`);
log(failures.length === 0 ? 'all checks passed' : `${failures.length} checks failed`);
process.exit(failures.length === 0 ? 0 : 1);

/**
 * The reporter against a real job's event stream in real Redis (events fed with publishEvent, no
 * worker) and the Slack emulator: the card's final state, thread replies exactly once across a
 * restart and a replay, Slack answering 429 for a while, and a job that ended without saying so.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { publishEvent } from '../../src/queue/events.js';
import type { ClusterCreateResult } from '../../src/operations/schema.js';
import type { ProgressEvent } from '../../src/operations/progress.js';
import type { EmulatedMessage } from '../../tools/slack-emulator/emulator.js';
import { CHANNEL, FAST_REPORTER, healthyCluster, startSlackHarness } from '../../tools/slack-emulator/harness.js';
import type { SlackHarness, SlackHarnessOptions } from '../../tools/slack-emulator/harness.js';

let h: SlackHarness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

const STEPS = [
  { id: 'rabbit:preflight', title: 'Check hosts' },
  { id: 'rabbit:install', title: 'Install RabbitMQ' },
  { id: 'rabbit:join-cluster', title: 'Join nodes' },
];

const RESULT: ClusterCreateResult = {
  cluster: 'rmq-lab',
  health: healthyCluster(),
  replication: { mode: 'ha-all', detail: 'policy ha-all on ^(?!amq\\.).*' },
  warnings: ['classic queue mirroring is deprecated'],
  transportUrl: 'rabbit://USER:PASS@192.0.2.11:5672,USER:PASS@192.0.2.12:5672,USER:PASS@192.0.2.13:5672/',
  steps: STEPS.map((s) => ({ id: s.id, state: 'done' as const })),
};

/** A create from Slack: the card the listener posted and the job it queued. */
async function createFromSlack(
  options: SlackHarnessOptions = {},
): Promise<{ h: SlackHarness; jobId: string; card: EmulatedMessage }> {
  const harness = await startSlackHarness(options);
  h = harness;
  await harness.driver.slashCommand({ text: 'cluster create rmq-lab' });
  const card = await harness.emulator.waitFor(() => harness.emulator.channelMessages(CHANNEL)[0], 'the job card');
  let jobId: string | undefined;
  for (let i = 0; i < 500 && !jobId; i += 1) {
    jobId = (await harness.queue.getJobs(['waiting']))[0]?.id;
    if (!jobId) await new Promise((r) => setTimeout(r, 10));
  }
  if (!jobId) throw new Error('no job queued');
  return { h: harness, jobId, card };
}

function events(jobId: string) {
  const base = { jobId, operation: 'cluster.create' as const, cluster: 'rmq-lab', at: new Date().toISOString() };
  const job = (
    state: 'started' | 'retrying' | 'completed' | 'failed',
    attempt: number,
    extra: object = {},
  ): ProgressEvent => ({ ...base, type: 'job', state, attempt, ...extra });
  const step = (id: string, state: 'running' | 'done' | 'skipped' | 'failed', extra: object = {}): ProgressEvent => ({
    ...base,
    type: 'step',
    step: id,
    state,
    ...extra,
  });
  return { job, step };
}

/** A full, successful run: per-host output on preflight and install, a detail on join. */
function successfulRun(jobId: string): ProgressEvent[] {
  const { job, step } = events(jobId);
  return [
    job('started', 1, { steps: STEPS }),
    step('rabbit:preflight', 'running'),
    ...['mq1', 'mq2', 'mq3'].flatMap((host) => [
      step('rabbit:preflight', 'running', { host }),
      step('rabbit:preflight', 'done', { host, durationMs: 310, detail: 'Debian 12, hostname matches' }),
    ]),
    step('rabbit:preflight', 'done', { durationMs: 420 }),
    step('rabbit:install', 'running'),
    ...['mq1', 'mq2', 'mq3'].map((host) =>
      step('rabbit:install', 'done', { host, durationMs: 2100, detail: 'rabbitmq-server 3.10.8 already installed' }),
    ),
    step('rabbit:install', 'done', { durationMs: 2200 }),
    step('rabbit:join-cluster', 'running'),
    step('rabbit:join-cluster', 'done', { durationMs: 9100, detail: 'mq2, mq3 joined rabbit@mq1' }),
    job('completed', 1, { result: RESULT }),
  ];
}

async function publishAll(harness: SlackHarness, list: ProgressEvent[]): Promise<void> {
  for (const event of list) await publishEvent(harness.redis, harness.prefix, event);
}

async function finalCard(
  harness: SlackHarness,
  card: EmulatedMessage,
  state: 'completed' | 'failed',
): Promise<EmulatedMessage> {
  await harness.emulator.waitFor(
    () => harness.emulator.message(CHANNEL, card.ts)!.text.startsWith(`cluster.create rmq-lab: ${state}`),
    `the card to say ${state}`,
  );
  await harness.bot.reporter.idle();
  return harness.emulator.message(CHANNEL, card.ts)!;
}

function replyTexts(harness: SlackHarness, card: EmulatedMessage): string[] {
  return harness.emulator.threadReplies(CHANNEL, card.ts).map((m) => m.text);
}

function checklist(message: EmulatedMessage): string {
  return JSON.stringify(message.blocks);
}

describe('job card and thread', () => {
  it('ends with every step done, then the transport_url and, last, the status card in the thread', async () => {
    const { h, jobId, card } = await createFromSlack();
    await publishAll(h, successfulRun(jobId));
    const final = await finalCard(h, card, 'completed');

    expect(final.text).toBe('cluster.create rmq-lab: completed (3/3 steps)');
    const blocks = checklist(final);
    for (const title of ['Check hosts — 420 ms', 'Install RabbitMQ — 2.2 s', 'Join nodes — 9.1 s'])
      expect(blocks).toContain(`:white_check_mark: ${title}`);
    expect(blocks).not.toContain(':arrows_counterclockwise:');
    expect(blocks).not.toContain(':white_circle:');

    expect(replyTexts(h, card)).toEqual([
      'Check hosts: done',
      'Install RabbitMQ: done',
      'Join nodes: done',
      `transport_url: ${RESULT.transportUrl}`,
      'rmq-lab is healthy',
    ]);
    const replies = h.emulator.threadReplies(CHANNEL, card.ts);
    expect(JSON.stringify(replies[0].blocks)).toContain('`mq2`: done (310 ms) — Debian 12, hostname matches');
    const status = JSON.stringify(replies[4].blocks);
    for (const node of ['rabbit@mq1', 'rabbit@mq2', 'rabbit@mq3']) expect(status).toContain(node);
    expect(status).toContain('3/3 nodes running');
    expect(JSON.stringify(replies[3].blocks)).toContain('classic queue mirroring is deprecated');
  });

  it('marks the failed step and host on the card and replies with the evidence and what to do next', async () => {
    const { h, jobId, card } = await createFromSlack();
    const { job, step } = events(jobId);
    const error = {
      code: 'command.failed',
      message: 'rabbitmqctl join_cluster exited 69',
      retryable: false,
      host: 'mq2',
      step: 'rabbit:join-cluster',
      evidence: {
        host: 'mq2',
        command: 'rabbitmqctl join_cluster rabbit@mq1',
        exitCode: 69,
        stderr: 'Error: unable to perform an operation on node rabbit@mq1',
      },
      hint: 'Check that mq2 resolves mq1 and that epmd (4369) and 25672 are open between them.',
    };
    await publishAll(h, [
      job('started', 1, { steps: STEPS }),
      step('rabbit:preflight', 'done', { durationMs: 400 }),
      step('rabbit:install', 'skipped', { detail: 'already installed' }),
      step('rabbit:join-cluster', 'running'),
      step('rabbit:join-cluster', 'failed', { host: 'mq2', durationMs: 3000, detail: error.message, error }),
      job('failed', 1, { error }),
    ]);
    const final = await finalCard(h, card, 'failed');
    const blocks = checklist(final);
    expect(blocks).toContain(':x: Join nodes — 3.0 s — failed on `mq2`');
    expect(blocks).toContain(':fast_forward: Install RabbitMQ');
    expect(blocks).not.toContain(':arrows_counterclockwise:');

    const replies = h.emulator.threadReplies(CHANNEL, card.ts);
    expect(replies.map((r) => r.text)).toEqual([
      'Join nodes: failed',
      `cluster.create rmq-lab failed: command.failed: ${error.message}`,
    ]);
    const failure = JSON.stringify(replies[1].blocks);
    expect(failure).toContain('command: rabbitmqctl join_cluster rabbit@mq1');
    expect(failure).toContain('exit code: 69');
    expect(failure).toContain('unable to perform an operation on node rabbit@mq1');
    expect(failure).toContain('What to do next:* Check that mq2 resolves mq1');
  });

  it('shows a retry in the thread and starts the failed step over', async () => {
    const { h, jobId, card } = await createFromSlack();
    const { job, step } = events(jobId);
    const transient = { code: 'ssh.connection_lost', message: 'socket hang up', retryable: true, host: 'mq3' };
    await publishAll(h, [
      job('started', 1, { steps: STEPS }),
      step('rabbit:preflight', 'done', { durationMs: 400 }),
      step('rabbit:install', 'running'),
      job('retrying', 1, { error: transient }),
      job('started', 2, { steps: STEPS }),
      step('rabbit:preflight', 'skipped', { detail: 'finished by an earlier attempt' }),
      step('rabbit:install', 'done', { durationMs: 1000 }),
      step('rabbit:join-cluster', 'done', { durationMs: 1000 }),
      job('completed', 2, { result: RESULT }),
    ]);
    const final = await finalCard(h, card, 'completed');
    expect(final.text).toBe('cluster.create rmq-lab: completed (3/3 steps)');
    expect(replyTexts(h, card)).toEqual([
      'attempt 1 of cluster.create rmq-lab failed; retrying',
      `transport_url: ${RESULT.transportUrl}`,
      'rmq-lab is healthy',
    ]);
  });

  it('coalesces a burst of events into a few card edits', async () => {
    const { h, jobId, card } = await createFromSlack({ reporter: { ...FAST_REPORTER, cardIntervalMs: 600_000 } });
    const { job, step } = events(jobId);
    const many = Array.from({ length: 40 }, (_, i) => ({ id: `rabbit:step-${i}`, title: `Step ${i}` }));
    await publishAll(h, [
      job('started', 1, { steps: many }),
      ...many.flatMap((s) => [step(s.id, 'running'), step(s.id, 'done', { durationMs: 5 })]),
      job('completed', 1, { result: RESULT }),
    ]);
    await finalCard(h, card, 'completed');
    // The first edit, maybe one while the burst lands, and the final one: never one per event.
    expect(h.emulator.callsOf('chat.update').length).toBeLessThanOrEqual(3);
  });
});

describe('restarts and replays', () => {
  it('resumes after a restart of the bot without posting any reply twice', async () => {
    const { h, jobId, card } = await createFromSlack();
    const run = successfulRun(jobId);
    const half =
      run.findIndex(
        (e) => e.type === 'step' && e.step === 'rabbit:install' && e.host === undefined && e.state === 'done',
      ) + 1;
    await publishAll(h, run.slice(0, half));
    await h.emulator.waitFor(() => replyTexts(h, card).length === 2, 'the first two step replies');

    await h.restartBot();
    await publishAll(h, run.slice(half));
    await finalCard(h, card, 'completed');
    expect(replyTexts(h, card)).toEqual([
      'Check hosts: done',
      'Install RabbitMQ: done',
      'Join nodes: done',
      `transport_url: ${RESULT.transportUrl}`,
      'rmq-lab is healthy',
    ]);
  });

  it('picks up a job that ended while the bot was down and closes its card', async () => {
    const { h, jobId, card } = await createFromSlack();
    await h.emulator.waitFor(() => h.emulator.callsOf('chat.update').length > 0, 'the reporter to take the card');
    await h.bot.close();
    await publishAll(h, successfulRun(jobId));
    await h.restartBot();
    const final = await finalCard(h, card, 'completed');
    expect(final.text).toBe('cluster.create rmq-lab: completed (3/3 steps)');
    expect(replyTexts(h, card)).toHaveLength(5);
  });

  it('replaying the whole stream from the start posts nothing again', async () => {
    const { h, jobId, card } = await createFromSlack();
    await publishAll(h, successfulRun(jobId));
    await finalCard(h, card, 'completed');
    const postsBefore = h.emulator.callsOf('chat.postMessage').length;

    // Forget the cursor and put the card back on the unfinished list, as a crash at the worst moment would.
    await h.redis.del(`${h.prefix}:slack:progress:${jobId}`);
    await h.redis.sadd(`${h.prefix}:slack:active`, jobId);
    await h.restartBot();
    await h.bot.reporter.idle();
    expect(h.emulator.callsOf('chat.postMessage')).toHaveLength(postsBefore);
    expect(replyTexts(h, card)).toHaveLength(5);
    expect(h.emulator.message(CHANNEL, card.ts)!.text).toBe('cluster.create rmq-lab: completed (3/3 steps)');
  });
});

describe('Slack rate limits', () => {
  it('gets every step to the card, once, while Slack answers 429 with Retry-After', async () => {
    const { h, jobId, card } = await createFromSlack();
    await h.emulator.waitFor(() => h.emulator.callsOf('chat.update').length > 0, 'the first card edit');
    h.emulator.rateLimit('chat.update', 2, 1);
    h.emulator.rateLimit('chat.postMessage', 1, 1);
    await publishAll(h, successfulRun(jobId));
    const final = await finalCard(h, card, 'completed');

    expect(h.emulator.callsOf('chat.update').filter((c) => c.status === 429)).toHaveLength(2);
    expect(h.emulator.callsOf('chat.postMessage').filter((c) => c.status === 429)).toHaveLength(1);
    expect(final.text).toBe('cluster.create rmq-lab: completed (3/3 steps)');
    const replies = replyTexts(h, card);
    expect(replies).toEqual([
      'Check hosts: done',
      'Install RabbitMQ: done',
      'Join nodes: done',
      `transport_url: ${RESULT.transportUrl}`,
      'rmq-lab is healthy',
    ]);
    expect(new Set(replies).size).toBe(replies.length);
  });
});

describe('a job that ends without a final event', () => {
  it('closes the card as failed when the job is gone from the queue', async () => {
    const { h, jobId, card } = await createFromSlack({ reporter: { ...FAST_REPORTER, staleCheckMs: 50 } });
    const { job, step } = events(jobId);
    await publishAll(h, [job('started', 1, { steps: STEPS }), step('rabbit:preflight', 'running')]);
    await h.emulator.waitFor(
      () => h.emulator.message(CHANNEL, card.ts)!.text.includes('running'),
      'the card to show running',
    );
    await (await h.queue.getJob(jobId))!.remove();

    const final = await finalCard(h, card, 'failed');
    expect(checklist(final)).toContain(':x: Check hosts');
    expect(checklist(final)).not.toContain(':arrows_counterclockwise:');
    expect(JSON.stringify(h.emulator.threadReplies(CHANNEL, card.ts).at(-1)!.blocks)).toContain('job.lost');
  });
});

describe('bad data in the stream', () => {
  it(
    'skips a malformed entry (not JSON, not an event, no event field), ' +
      'logs it with a code, and the card still ends',
    async () => {
      const { h, jobId, card } = await createFromSlack();
      const run = successfulRun(jobId);
      const key = `${h.prefix}:events:${jobId}`;
      await publishAll(h, run.slice(0, 3));
      await h.redis.xadd(key, '*', 'event', '{"type":"job", not json');
      await h.redis.xadd(key, '*', 'event', '{"type":"nonsense"}');
      await h.redis.xadd(key, '*', 'other', 'x');
      await publishAll(h, run.slice(3));
      const final = await finalCard(h, card, 'completed');
      expect(final.text).toBe('cluster.create rmq-lab: completed (3/3 steps)');
      const skipped = h.logs.filter((l) => l.code === 'event.malformed' && l.jobId === jobId);
      expect(skipped).toHaveLength(3);
    },
  );
});

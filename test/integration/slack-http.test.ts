/**
 * The HTTP receiver, end to end through Bolt (unmodified): signed slash commands from the driver,
 * Web API calls into the emulator, jobs on a real BullMQ queue in real Redis. No worker runs.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JobData } from '../../src/operations/schema.js';
import { startHeartbeat } from '../../src/queue/worker.js';
import { CREATE_CONFIRM_ACTION } from '../../src/slack/messages/plan.js';
import { signSlackRequest } from '../../tools/slack-emulator/driver.js';
import {
  CHANNEL,
  OPERATOR,
  OTHER_CHANNEL,
  OUTSIDER,
  VIEWER,
  startSlackHarness,
} from '../../tools/slack-emulator/harness.js';
import type { SlackHarness } from '../../tools/slack-emulator/harness.js';

let h: SlackHarness;

beforeEach(async () => {
  h = await startSlackHarness({ mode: 'http' });
});

afterEach(async () => {
  await h.close();
});

async function jobCount(): Promise<number> {
  return (await h.queue.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'])).length;
}

/** Everything the bot said, as text, in one string (blocks included), for "mentions" assertions. */
function said(value: unknown): string {
  return JSON.stringify(value);
}

/** Lets work that runs after an ack finish: a round trip through the bot that is acked last. */
async function settle(): Promise<void> {
  const reply = await h.driver.slashCommand({ text: 'help' });
  expect(reply.status).toBe(200);
}

describe('request verification', () => {
  it('answers 401 to a forged signature and enqueues nothing', async () => {
    const reply = await h.driver.slashCommand({ text: 'cluster create rmq-lab' }, { secret: 'not-the-signing-secret' });
    expect(reply.status).toBe(401);
    await settle();
    expect(await jobCount()).toBe(0);
    expect(h.emulator.callsOf('chat.postMessage')).toEqual([]);
  });

  it('answers 401 to a correctly signed request replayed after five minutes', async () => {
    const reply = await h.driver.slashCommand(
      { text: 'cluster create rmq-lab' },
      { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 },
    );
    expect(reply.status).toBe(401);
    await settle();
    expect(await jobCount()).toBe(0);
    expect(h.emulator.callsOf('chat.postMessage')).toEqual([]);
  });

  it('answers 401 to a signature of another body', async () => {
    const ts = Math.floor(Date.now() / 1000);
    const reply = await h.driver.slashCommand(
      { text: 'cluster create rmq-lab' },
      { timestamp: ts, signature: signSlackRequest('emulated-signing-secret-8f14e45f', ts, 'text=help') },
    );
    expect(reply.status).toBe(401);
    expect(await jobCount()).toBe(0);
  });
});

describe('replays and retries', () => {
  /** The card count once the bot has settled: each accepted create posts one card. */
  async function cardsAfterSettling(): Promise<number> {
    await settle();
    await h.bot.afterAck.idle();
    return h.emulator.callsOf('chat.postMessage').length;
  }

  it(
    'acts once on the same signed slash command delivered three times (a ' + 'replay: same timestamp and signature)',
    async () => {
      const body = new URLSearchParams(
        h.driver.slashCommandFields({ text: 'cluster create rmq-lab', user: OPERATOR }),
      ).toString();
      const timestamp = Math.floor(Date.now() / 1000);
      const replies = [];
      for (let i = 0; i < 3; i += 1) replies.push(await h.driver.postForm(body, { timestamp }));
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(await cardsAfterSettling()).toBe(1);
      expect(await jobCount()).toBe(1);
      expect(h.logs.filter((l) => l.code === 'slack.duplicate_delivery')).toHaveLength(2);
    },
  );

  it(
    'acknowledges Slack retries (X-Slack-Retry-Num, newly signed) of a ' + 'delivered command without acting again',
    async () => {
      const body = new URLSearchParams(
        h.driver.slashCommandFields({ text: 'cluster create rmq-lab', user: OPERATOR }),
      ).toString();
      const now = Math.floor(Date.now() / 1000);
      const first = await h.driver.postForm(body, { timestamp: now });
      const retries = [];
      for (const n of [1, 2])
        retries.push(
          await h.driver.postForm(body, {
            timestamp: now + n,
            headers: { 'x-slack-retry-num': String(n), 'x-slack-retry-reason': 'http_timeout' },
          }),
        );
      expect([first, ...retries].map((r) => r.status)).toEqual([200, 200, 200]);
      expect(await cardsAfterSettling()).toBe(1);
      expect(await jobCount()).toBe(1);
    },
  );

  it('still acts on two commands that differ (each Slack delivery has its own trigger and response_url)', async () => {
    await h.driver.slashCommand({ text: 'status rmq-lab', user: OPERATOR });
    await h.driver.slashCommand({ text: 'status rmq-lab', user: OPERATOR });
    expect(await cardsAfterSettling()).toBe(2);
  });
});

describe('health', () => {
  it(
    'answers GET /healthz for load balancers, without a signature ' + '(bot-observability.test.ts covers each check)',
    async () => {
      const stop = startHeartbeat(h.redis, h.prefix, 'w-http');
      try {
        const response = await fetch(`http://127.0.0.1:${h.bot.port}/healthz`);
        expect(response.status).toBe(200);
        expect(await response.json()).toMatchObject({ healthy: true });
      } finally {
        await stop();
      }
    },
  );
});

describe('who may do what', () => {
  it('refuses a channel that is not listed, privately, and logs who, where and what', async () => {
    const reply = await h.driver.slashCommand({ text: 'cluster create rmq-lab', channel: OTHER_CHANNEL });
    expect(reply.status).toBe(200);
    expect(reply.json?.response_type).toBe('ephemeral');
    expect(said(reply.json)).toContain("don't take commands in this channel");
    expect(said(reply.json)).toContain(OTHER_CHANNEL);
    await settle();
    expect(await jobCount()).toBe(0);
    expect(h.emulator.callsOf('chat.postMessage')).toEqual([]);
    expect(h.logs).toContainEqual(
      expect.objectContaining({
        msg: 'slack request refused',
        user: OPERATOR,
        channel: OTHER_CHANNEL,
        command: 'cluster create rmq-lab',
        reason: 'channel',
      }),
    );
  });

  it('refuses a user with no role', async () => {
    const reply = await h.driver.slashCommand({ text: 'status', user: OUTSIDER });
    expect(reply.json?.response_type).toBe('ephemeral');
    expect(said(reply.json)).toContain("you're not allowed to use");
    expect(h.logs).toContainEqual(
      expect.objectContaining({
        msg: 'slack request refused',
        user: OUTSIDER,
        channel: CHANNEL,
        command: 'status',
        reason: 'user',
      }),
    );
  });

  it('refuses a create from a viewer, but lets the viewer read', async () => {
    const refused = await h.driver.slashCommand({ text: 'cluster create rmq-lab', user: VIEWER });
    expect(said(refused.json)).toContain('needs the *operator* role');
    await settle();
    expect(await jobCount()).toBe(0);
    expect(h.logs).toContainEqual(
      expect.objectContaining({
        msg: 'slack request refused',
        user: VIEWER,
        command: 'cluster create rmq-lab',
        reason: 'role',
      }),
    );

    const status = await h.driver.slashCommand({ text: 'status rmq-lab', user: VIEWER });
    expect(said(status.json)).toContain('Reading the status of rmq-lab');
  });
});

describe('command text', () => {
  it.each([
    ['cluster create rmq-lab; reboot', 'unexpected character U+003B (;)'],
    ['cluster create $(reboot)', 'unexpected character U+0024 ($)'],
    ['status "rmq-lab"', 'unexpected character U+0022'],
    ['status rmq-lab\nreboot', 'must be on one line'],
    ['status r\u00e9seau \u{1F407}', 'U+00E9'],
    [`status ${'x'.repeat(5000)}`, 'characters long'],
    ['cluster destroy rmq-lab', 'unknown subcommand'],
  ])('answers %j with a usage error', async (text, fragment) => {
    const reply = await h.driver.slashCommand({ text });
    expect(reply.status).toBe(200);
    expect(reply.json?.response_type).toBe('ephemeral');
    expect(String(reply.json?.text)).toContain(fragment);
    expect(said(reply.json)).toContain('Usage');
  });

  it('names the known clusters when the cluster is unknown', async () => {
    const reply = await h.driver.slashCommand({ text: 'cluster create staging' });
    expect(String(reply.json?.text)).toContain('unknown cluster "staging"; known clusters: rmq-lab, spare');
    await settle();
    expect(await jobCount()).toBe(0);
  });

  it('answers help on the ack itself', async () => {
    const reply = await h.driver.slashCommand({ text: 'help' });
    expect(said(reply.json)).toContain('/rabbit cluster create');
    expect(said(reply.json)).toContain('/rabbit jobs');
  });
});

describe('cluster create', () => {
  it("posts the job card, then enqueues the job with the card's channel and ts", async () => {
    const reply = await h.driver.slashCommand({ text: 'cluster create rmq-lab' });
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('');
    const card = await h.emulator.waitFor(() => h.emulator.channelMessages(CHANNEL)[0], 'the job card');
    expect(card.text).toContain('cluster.create rmq-lab');
    const job = await waitForJob();
    const data = JobData.parse(job.data);
    expect(data).toMatchObject({
      operation: 'cluster.create',
      cluster: 'rmq-lab',
      options: { allowWipe: false },
      origin: { kind: 'slack', user: OPERATOR, channel: CHANNEL, cardTs: card.ts },
    });
    expect(await h.store.getCard(job.id!)).toMatchObject({
      channel: CHANNEL,
      ts: card.ts,
      user: OPERATOR,
      permalink: `https://example.slack.com/archives/${CHANNEL}/p${card.ts.replace('.', '')}`,
    });
    // The reporter took the card over: the queued event redraws it with the job id.
    await h.emulator.waitFor(
      () =>
        h.emulator.message(CHANNEL, card.ts)!.text.includes('queued') &&
        JSON.stringify(h.emulator.message(CHANNEL, card.ts)!.blocks).includes(job.id!),
      'the card showing the job id',
    );
  });

  it('answers a second create while the first runs with a private link to the first card', async () => {
    await h.driver.slashCommand({ text: 'cluster create rmq-lab' });
    const first = await h.emulator.waitFor(() => h.emulator.channelMessages(CHANNEL)[0], 'the first card');
    await waitForJob();

    const second = await h.driver.slashCommand({ text: 'cluster create rmq-lab' });
    expect(second.status).toBe(200);
    const notice = await h.emulator.waitFor(() => h.emulator.responsesTo(second.responseUrl)[0], 'the busy notice');
    expect(notice.body.response_type).toBe('ephemeral');
    expect(said(notice.body)).toContain('already has an operation running');
    expect(said(notice.body)).toContain(`https://example.slack.com/archives/${CHANNEL}/p${first.ts.replace('.', '')}`);
    expect(await jobCount()).toBe(1);
    expect(h.emulator.channelMessages(CHANNEL)).toHaveLength(1);
  });

  it(
    'decides busy by the enqueue alone: the second create posts its card, ' +
      'hears busy from the queue and takes the card back',
    async () => {
      await h.driver.slashCommand({ text: 'cluster create rmq-lab' });
      const first = await h.emulator.waitFor(() => h.emulator.channelMessages(CHANNEL)[0], 'the first card');
      await waitForJob();

      const second = await h.driver.slashCommand({ text: 'cluster create rmq-lab' });
      await h.emulator.waitFor(() => h.emulator.responsesTo(second.responseUrl)[0], 'the busy notice');
      const posted = h.emulator
        .callsOf('chat.postMessage')
        .filter((c) => c.args.channel === CHANNEL && c.args.thread_ts === undefined);
      expect(posted).toHaveLength(2);
      const deleted = h.emulator.callsOf('chat.delete');
      expect(deleted).toHaveLength(1);
      expect(deleted[0].args.ts).not.toBe(first.ts);
      expect(h.emulator.channelMessages(CHANNEL).map((m) => m.ts)).toEqual([first.ts]);
    },
  );

  it('marks the busy create card "not started" when Slack will not delete it', async () => {
    await h.driver.slashCommand({ text: 'cluster create rmq-lab' });
    const first = await h.emulator.waitFor(() => h.emulator.channelMessages(CHANNEL)[0], 'the first card');
    await waitForJob();
    h.emulator.failNext('chat.delete', 'cant_delete_message');

    const second = await h.driver.slashCommand({ text: 'cluster create rmq-lab' });
    const notice = await h.emulator.waitFor(() => h.emulator.responsesTo(second.responseUrl)[0], 'the busy notice');
    expect(said(notice.body)).toContain('already has an operation running');
    expect(h.emulator.callsOf('chat.delete').map((c) => c.error)).toEqual(['cant_delete_message']);
    const kept = h.emulator.channelMessages(CHANNEL).filter((m) => m.ts !== first.ts);
    expect(kept).toHaveLength(1);
    expect(kept[0].text).toContain('not started');
    expect(said(kept[0].blocks)).toContain(
      `https://example.slack.com/archives/${CHANNEL}/p${first.ts.replace('.', '')}`,
    );
    expect(await jobCount()).toBe(1);
  });

  it('queues one job when two creates race, and the loser hears where the winner is', async () => {
    const [a, b] = await Promise.all([
      h.driver.slashCommand({ text: 'cluster create rmq-lab' }),
      h.driver.slashCommand({ text: 'cluster create rmq-lab' }),
    ]);
    const notices = await h.emulator.waitFor(() => {
      const all = [...h.emulator.responsesTo(a.responseUrl), ...h.emulator.responsesTo(b.responseUrl)];
      return all.length === 1 ? all : undefined;
    }, 'one busy notice');
    expect(said(notices[0].body)).toContain('already has an operation running');
    expect(await jobCount()).toBe(1);
    const job = await waitForJob();
    const winner = JobData.parse(job.data).origin as { cardTs: string };
    // Whether the loser lost at the check (no card) or at the enqueue (its card says so), no card is left pretending.
    for (const card of h.emulator.channelMessages(CHANNEL)) {
      if (card.ts !== winner.cardTs)
        await h.emulator.waitFor(
          () => h.emulator.message(CHANNEL, card.ts)!.text.includes('not started'),
          'the losing card to say so',
        );
    }
  });

  it('says to invite the bot when it cannot post the card, and queues nothing', async () => {
    h.emulator.removeBotFrom(CHANNEL);
    const reply = await h.driver.slashCommand({ text: 'cluster create rmq-lab' });
    const problem = await h.emulator.waitFor(() => h.emulator.responsesTo(reply.responseUrl)[0], 'the problem');
    expect(said(problem.body)).toContain("I can't post in this channel, so nothing was started.");
    expect(said(problem.body)).toContain('/invite @warren');
    expect(await jobCount()).toBe(0);
  });

  it('lets another cluster be created while one is busy', async () => {
    await h.driver.slashCommand({ text: 'cluster create rmq-lab' });
    await waitForJob();
    await h.driver.slashCommand({ text: 'cluster create spare' });
    await h.emulator.waitFor(() => h.emulator.channelMessages(CHANNEL).length === 2, 'two cards');
    await expect.poll(jobCount).toBe(2);
  });

  it('--dry-run shows the commands per host and queues nothing; its button creates for real', async () => {
    const reply = await h.driver.slashCommand({ text: 'cluster create rmq-lab --dry-run' });
    const plan = await h.emulator.waitFor(() => h.emulator.responsesTo(reply.responseUrl)[0], 'the plan');
    expect(plan.body.response_type).toBe('ephemeral');
    const text = said(plan.body);
    expect(text).toContain('Dry run: cluster create rmq-lab');
    for (const host of ['mq1', 'mq2', 'mq3']) expect(text).toContain(`*${host}*`);
    expect(text).toContain('rabbitmqctl');
    expect(text).toContain(CREATE_CONFIRM_ACTION);
    expect(await jobCount()).toBe(0);
    expect(h.emulator.channelMessages(CHANNEL)).toEqual([]);

    const press = await h.driver.interaction(
      h.driver.blockAction({ actionId: CREATE_CONFIRM_ACTION, value: 'rmq-lab' }),
    );
    expect(press.status).toBe(200);
    const card = await h.emulator.waitFor(() => h.emulator.channelMessages(CHANNEL)[0], 'the job card');
    const job = await waitForJob();
    expect(JobData.parse(job.data).origin).toEqual({
      kind: 'slack',
      user: OPERATOR,
      channel: CHANNEL,
      cardTs: card.ts,
    });
    expect(said(h.emulator.responsesTo(press.responseUrl))).toContain('follow the job card');
  });

  it("refuses the dry run's button to a viewer and for a cluster that is not configured", async () => {
    const viewer = await h.driver.interaction(
      h.driver.blockAction({ actionId: CREATE_CONFIRM_ACTION, value: 'rmq-lab', user: VIEWER }),
    );
    expect(said(await h.emulator.waitFor(() => h.emulator.responsesTo(viewer.responseUrl)[0], 'refusal'))).toContain(
      'needs the *operator* role',
    );
    const forged = await h.driver.interaction(
      h.driver.blockAction({ actionId: CREATE_CONFIRM_ACTION, value: 'rmq-lab; reboot' }),
    );
    expect(said(await h.emulator.waitFor(() => h.emulator.responsesTo(forged.responseUrl)[0], 'problem'))).toContain(
      'does not name a cluster',
    );
    const unknown = await h.driver.interaction(
      h.driver.blockAction({ actionId: CREATE_CONFIRM_ACTION, value: 'staging' }),
    );
    expect(said(await h.emulator.waitFor(() => h.emulator.responsesTo(unknown.responseUrl)[0], 'usage'))).toContain(
      'unknown cluster',
    );
    expect(await jobCount()).toBe(0);
  });
});

describe('status and jobs', () => {
  it('posts a status card for one cluster: headline and one row per node', async () => {
    const reply = await h.driver.slashCommand({ text: 'status rmq-lab' });
    expect(said(reply.json)).toContain('Reading the status of rmq-lab');
    const card = await h.emulator.waitFor(() => h.emulator.channelMessages(CHANNEL)[0], 'the status card');
    expect(card.text).toBe('rmq-lab is healthy');
    const blocks = said(card.blocks);
    for (const node of ['rabbit@mq1', 'rabbit@mq2', 'rabbit@mq3']) expect(blocks).toContain(node);
    expect(blocks).toContain('3/3 nodes running');
  });

  it('posts one line per configured cluster when no cluster is named', async () => {
    await h.driver.slashCommand({ text: 'status' });
    const summary = await h.emulator.waitFor(() => h.emulator.channelMessages(CHANNEL)[0], 'the summary');
    expect(summary.text).toBe('Clusters — rmq-lab: healthy, spare: healthy');
  });

  it('lists running and recent operations with a link to each card', async () => {
    await h.driver.slashCommand({ text: 'cluster create rmq-lab' });
    const card = await h.emulator.waitFor(() => h.emulator.channelMessages(CHANNEL)[0], 'the card');
    await waitForJob();
    const reply = await h.driver.slashCommand({ text: 'jobs' });
    const list = await h.emulator.waitFor(() => h.emulator.responsesTo(reply.responseUrl)[0], 'the list');
    expect(list.body.response_type).toBe('ephemeral');
    expect(list.body.text).toBe('cluster.create rmq-lab: waiting');
    expect(said(list.body)).toContain(`p${card.ts.replace('.', '')}`);
  });
});

async function waitForJob() {
  for (let i = 0; i < 500; i += 1) {
    const [job] = await h.queue.getJobs(['waiting', 'active', 'delayed', 'prioritized']);
    if (job) return job;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('no job was enqueued');
}

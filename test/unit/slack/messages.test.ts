import { describe, expect, it } from 'vitest';
import type { ClusterHealth } from '../../../src/rabbit/cluster-status.js';
import type { JobView } from '../../../src/slack/job-view.js';
import { buildJobCard, buildNotStartedCard } from '../../../src/slack/messages/job-card.js';
import { buildJobsList } from '../../../src/slack/messages/jobs-list.js';
import {
  codeBlock,
  escapeText,
  formatDuration,
  permalinkFor,
  sectionsOf,
  truncate,
} from '../../../src/slack/messages/mrkdwn.js';
import type { Block } from '../../../src/slack/messages/mrkdwn.js';
import { buildBusyNotice, buildPlan, CREATE_CONFIRM_ACTION } from '../../../src/slack/messages/plan.js';
import { buildRefusal } from '../../../src/slack/messages/refusal.js';
import { buildFailureReply, buildStepReply } from '../../../src/slack/messages/replies.js';
import { buildClusterSummary, buildStatusCard } from '../../../src/slack/messages/status-card.js';
import { buildHelp, buildUsageError } from '../../../src/slack/messages/usage.js';
import { knownHealth } from '../../../src/status/read-cluster-status.js';

/** The mrkdwn of every section and context, joined: what a person reads. */
function read(blocks: Block[]): string {
  return blocks
    .map((b) => {
      if (b.type === 'section') return b.text?.text ?? '';
      if (b.type === 'context') return b.elements.map((e) => ('text' in e ? e.text : '')).join(' ');
      if (b.type === 'header') return b.text.text;
      return `[${b.type}]`;
    })
    .join('\n');
}

/** Slack refuses a message whose sections exceed 3000 characters or that has more than 50 blocks. */
function expectWithinSlackLimits(blocks: Block[]): void {
  expect(blocks.length).toBeLessThanOrEqual(50);
  for (const block of blocks) if (block.type === 'section') expect(block.text!.text.length).toBeLessThanOrEqual(3000);
}

const view: JobView = {
  jobId: 'job-1',
  operation: 'cluster.create',
  cluster: 'rmq-lab',
  state: 'started',
  attempt: 1,
  steps: [
    { id: 'a', title: 'Check hosts', state: 'done', durationMs: 420, attempt: 1, reported: true, hosts: [] },
    {
      id: 'b',
      title: 'Install RabbitMQ',
      state: 'skipped',
      detail: 'already installed',
      attempt: 1,
      reported: true,
      hosts: [],
    },
    {
      id: 'c',
      title: 'Join nodes',
      state: 'running',
      attempt: 1,
      reported: false,
      hosts: [
        { host: 'mq2', state: 'done' },
        { host: 'mq3', state: 'running' },
      ],
    },
    { id: 'd', title: 'Verify', state: 'pending', attempt: 1, reported: false, hosts: [] },
  ],
};

describe('job card', () => {
  it('shows the operation, who asked, and a checklist with states and durations', () => {
    const card = buildJobCard(view, { user: 'U123ABC', requestedAt: '2026-01-01T00:00:00Z' });
    expect(card.text).toBe('cluster.create rmq-lab: running (2/4 steps)');
    expect(read(card.blocks)).toBe(
      [
        '*cluster.create rmq-lab* — :arrows_counterclockwise: running',
        'requested by <@U123ABC> · job `job-1` · 2026-01-01T00:00:00Z',
        ':white_check_mark: Check hosts — 420 ms\n:fast_forward: Install ' +
          'RabbitMQ — already installed\n:arrows_counterclockwise: Join nodes — ' +
          '1/2 hosts\n:white_circle: Verify',
      ].join('\n'),
    );
  });

  it("names the failed step's host and points to the thread", () => {
    const failed: JobView = {
      ...view,
      state: 'failed',
      error: { code: 'command.failed', message: 'x', retryable: false, step: 'c', host: 'mq3' },
      steps: [{ ...view.steps[2], state: 'failed', durationMs: 3000, hosts: [{ host: 'mq3', state: 'failed' }] }],
    };
    const text = read(buildJobCard(failed, { user: 'U123ABC' }).blocks);
    expect(text).toContain(':x: Join nodes — 3.0 s — failed on `mq3`');
    expect(text).toContain(
      ':warning: `command.failed` at step `c` on host `mq3` — evidence and what to do next are in the thread',
    );
  });

  it('escapes whatever a worker put in titles and details', () => {
    const hostile: JobView = {
      ...view,
      steps: [{ ...view.steps[1], title: '<!channel> & co', detail: '<http://evil|click>' }],
    };
    const text = read(buildJobCard(hostile, { user: 'U123ABC' }).blocks);
    expect(text).toContain('&lt;!channel&gt; &amp; co');
    expect(text).not.toContain('<!channel>');
    expect(text).not.toContain('<http://evil');
  });

  it('says a create that lost the race never started', () => {
    expect(read(buildNotStartedCard('rmq-lab', 'U1', 'https://x.slack.com/archives/C1/p1').blocks)).toContain(
      'not started',
    );
  });
});

const degraded: ClusterHealth = {
  cluster: 'rmq-lab',
  headline: 'degraded',
  readFrom: 'mq1',
  nodes: [
    {
      node: 'rabbit@mq1',
      host: 'mq1',
      running: true,
      rabbitmqVersion: '3.10.8',
      erlangVersion: '25.2.3',
      alarms: [],
      maintenance: 'not under maintenance',
      partitionedFrom: [],
    },
    { node: 'rabbit@mq2', host: 'mq2', running: false, alarms: [], partitionedFrom: [] },
    {
      node: 'rabbit@mq3',
      host: 'mq3',
      running: true,
      rabbitmqVersion: '3.10.8',
      erlangVersion: '25.2.3',
      alarms: ['disk on rabbit@mq3'],
      partitionedFrom: ['rabbit@mq1'],
    },
  ],
  problems: ['rabbit@mq2 is stopped', 'alarm: disk on rabbit@mq3'],
  expected: ['rabbit@mq1', 'rabbit@mq2', 'rabbit@mq3'],
};

describe('status card', () => {
  it('has the headline, one row per node and the problems', () => {
    const card = buildStatusCard(degraded);
    expect(card.text).toBe('rmq-lab is degraded: rabbit@mq2 is stopped; alarm: disk on rabbit@mq3');
    const text = read(card.blocks);
    expect(text).toContain(':large_yellow_circle: *rmq-lab* is *degraded* — 2/3 nodes running');
    expect(text).toContain(
      ':large_green_circle: *rabbit@mq1* (mq1) · running · RabbitMQ 3.10.8 · ' +
        'Erlang 25.2.3 · no alarms · not under maintenance',
    );
    expect(text).toContain(':red_circle: *rabbit@mq2* (mq2) · *stopped* · no alarms');
    expect(text).toContain(':rotating_light: alarms: disk on rabbit@mq3 · :warning: partitioned from rabbit@mq1');
    expect(text).toContain('• rabbit@mq2 is stopped');
    expect(text).toContain('read from `mq1`');
  });

  it("stays within Slack's limits for a large cluster", () => {
    const nodes = Array.from({ length: 200 }, (_, i) => ({
      ...degraded.nodes[0],
      node: `rabbit@node-${i}-${'x'.repeat(40)}`,
    }));
    expectWithinSlackLimits(
      buildStatusCard({ ...degraded, nodes, problems: nodes.map((n) => `${n.node} is stopped`) }).blocks,
    );
  });

  it('summarises every cluster on one line each', () => {
    const summary = buildClusterSummary([
      { cluster: 'rmq-lab', health: degraded },
      { cluster: 'spare', error: 'ssh.connect_timeout: mq4 did not answer\nmore' },
    ]);
    expect(summary.text).toBe('Clusters — rmq-lab: degraded, spare: unknown');
    const text = read(summary.blocks);
    expect(text).toContain(':large_yellow_circle: *rmq-lab* degraded, 2/3 running — rabbit@mq2 is stopped (+1 more)');
    expect(text).toContain(':black_circle: *spare* — could not read status: ssh.connect_timeout: mq4 did not answer');
  });
});

describe('thread replies', () => {
  it('lists each host of a step with its state, duration and detail', () => {
    const reply = buildStepReply({
      ...view.steps[2],
      state: 'done',
      durationMs: 9100,
      detail: 'joined',
      hosts: [{ host: 'mq2', state: 'done', durationMs: 800, detail: 'joined rabbit@mq1' }],
    });
    expect(read(reply.blocks)).toBe(
      ':white_check_mark: *Join nodes* done in 9.1 s\njoined\n• `mq2`: done (800 ms) — joined rabbit@mq1',
    );
  });

  it('gives a failure its evidence in a code block and what to do next', () => {
    const reply = buildFailureReply({
      ...view,
      state: 'failed',
      error: {
        code: 'command.failed',
        message: 'join failed',
        retryable: false,
        host: 'mq2',
        step: 'rabbit:join-cluster',
        evidence: {
          host: 'mq2',
          command: 'rabbitmqctl join_cluster rabbit@mq1',
          exitCode: 69,
          stderr: 'Error: ```nodedown``` <@U1>',
        },
        hint: 'Open 25672 between the nodes.',
      },
    });
    const text = read(reply.blocks);
    expect(text).toContain(':x: *cluster.create rmq-lab failed* at step `rabbit:join-cluster`, host `mq2`');
    expect(text).toContain(
      '```command.failed: join failed (step rabbit:join-cluster, host ' +
        'mq2)\n  command: rabbitmqctl join_cluster rabbit@mq1\n  exit code: 69',
    );
    expect(text).toContain("Error: '''nodedown''' &lt;@U1&gt;");
    expect(text).toContain('*What to do next:* Open 25672 between the nodes.');
  });

  it('calls a failure that came without its error internal, never a code that blames the request', () => {
    const text = read(buildFailureReply({ ...view, state: 'failed' }).blocks);
    expect(text).toContain('internal: the job failed without reporting why');
    expect(text).not.toContain('job.invalid');
  });

  it('keeps a huge stderr inside a section', () => {
    const reply = buildFailureReply({
      ...view,
      state: 'failed',
      error: {
        code: 'command.failed',
        message: 'x',
        retryable: false,
        evidence: { host: 'h', command: 'c', exitCode: 1, stderr: 'e'.repeat(50_000) },
      },
    });
    expectWithinSlackLimits(reply.blocks);
  });
});

describe('usage, help and refusals', () => {
  it('help lists every command', () => {
    const text = read(buildHelp().blocks);
    // Slack wants <, > and & escaped even inside code; it shows them as typed.
    for (const usage of [
      '`/rabbit help`',
      '`/rabbit cluster create &lt;cluster&gt; [--dry-run]`',
      '`/rabbit status [&lt;cluster&gt;]`',
      '`/rabbit jobs`',
    ])
      expect(text).toContain(usage);
  });

  it('a usage error says what was wrong and shows the right form, escaped', () => {
    const message = buildUsageError({
      code: 'usage.unknown_command',
      message: 'unknown command "<x>"',
      usage: ['jobs — recent and running operations'],
    });
    expect(message.text).toBe('Sorry: unknown command "&lt;x&gt;"');
    expect(read(message.blocks)).toBe(
      ':warning: unknown command "&lt;x&gt;"\n*Usage*\n• `/rabbit jobs` — recent and running operations',
    );
  });

  it('each refusal says what an admin would change', () => {
    expect(read(buildRefusal({ reason: 'channel', channel: 'C999' }).blocks)).toContain(
      'add `C999` to `slack.channels`',
    );
    expect(read(buildRefusal({ reason: 'user', user: 'U999' }).blocks)).toContain('give your user id `U999` a role');
    expect(
      read(
        buildRefusal({ reason: 'role', user: 'U999', needs: 'operator', has: ['viewer'], command: 'cluster create x' })
          .blocks,
      ),
    ).toContain('Sorry, `cluster create x` needs the *operator* role; you have *viewer*.');
  });
});

describe('dry run and busy notice', () => {
  const plan = [
    { host: 'mq1', step: 'rabbit:install', command: 'apt-get install -y rabbitmq-server', when: 'if not installed' },
    { host: 'mq2', step: 'rabbit:install', command: 'apt-get install -y rabbitmq-server' },
    { host: 'mq2', step: 'rabbit:join-cluster', command: 'rabbitmqctl join_cluster rabbit@mq1' },
  ];

  it('groups the commands by host and offers the create to operators only', () => {
    const forOperator = buildPlan('rmq-lab', plan, { offerCreate: true });
    expect(forOperator.text).toBe('Dry run of cluster create rmq-lab: 3 commands on 2 hosts');
    const text = read(forOperator.blocks);
    expect(text).toContain('*mq1*\n```# rabbit:install (if not installed)\napt-get install -y rabbitmq-server```');
    expect(text).toContain(
      '*mq2*\n```# rabbit:install\napt-get install -y rabbitmq-server\n# ' +
        'rabbit:join-cluster\nrabbitmqctl join_cluster rabbit@mq1```',
    );
    const button = forOperator.blocks.at(-1)!;
    expect(button).toMatchObject({
      type: 'actions',
      elements: [{ action_id: CREATE_CONFIRM_ACTION, value: 'rmq-lab' }],
    });
    expect(buildPlan('rmq-lab', plan, { offerCreate: false }).blocks.some((b) => b.type === 'actions')).toBe(false);
  });

  it('stays within limits for a long plan', () => {
    const long = Array.from({ length: 2000 }, (_, i) => ({
      host: `h${i % 80}`,
      step: 's',
      command: `echo ${'y'.repeat(60)}`,
    }));
    expectWithinSlackLimits(buildPlan('big', long, { offerCreate: true }).blocks);
  });

  it('points a busy create at the running card', () => {
    expect(
      read(
        buildBusyNotice('rmq-lab', { jobId: 'j', link: 'https://example.slack.com/archives/C1/p1700000000000100' })
          .blocks,
      ),
    ).toContain('<https://example.slack.com/archives/C1/p1700000000000100|its card>');
    expect(read(buildBusyNotice('rmq-lab', { jobId: 'j', by: 'alice from the CLI' }).blocks)).toContain(
      'started by alice from the CLI',
    );
  });
});

describe('jobs list', () => {
  it('shows state, who and when, with a link to the card', () => {
    const now = new Date('2026-01-01T01:00:00Z');
    const list = buildJobsList(
      [
        {
          jobId: '1',
          operation: 'cluster.create',
          cluster: 'rmq-lab',
          state: 'active',
          requestedBy: 'U1',
          requestedAt: '2026-01-01T00:58:00Z',
          cardLink: 'https://example.slack.com/archives/C1/p1',
        },
        {
          jobId: '2',
          operation: 'cluster.create',
          cluster: 'spare',
          state: 'failed',
          requestedBy: 'bob (CLI)',
          requestedAt: '2025-12-31T20:00:00Z',
          failedReason: 'ssh.auth_failed: denied',
        },
      ],
      now,
    );
    const text = read(list.blocks);
    expect(text).toContain(
      ':arrows_counterclockwise: *cluster.create rmq-lab* — active · by ' +
        '<@U1> · 2 min ago · <https://example.slack.com/archives/C1/p1|card>',
    );
    expect(text).toContain(':x: *cluster.create spare* — failed · by bob (CLI) · 5 h ago\n    ssh.auth_failed: denied');
    expect(buildJobsList([]).text).toBe('No operations yet.');
  });
});

describe('mrkdwn helpers', () => {
  it('escapes, truncates and fences untrusted text', () => {
    expect(escapeText('a & <b> c')).toBe('a &amp; &lt;b&gt; c');
    expect(truncate('x'.repeat(100), 40)).toMatch(/^x+… \(\d+ more characters\)$/);
    expect(truncate('x'.repeat(100), 40)).toHaveLength(40);
    expect(codeBlock('a ``` b')).toBe("```a ''' b```");
    expect(codeBlock('')).toBe('``` ```');
  });

  it('formats durations for people', () => {
    expect([formatDuration(850), formatDuration(12_340), formatDuration(125_000)]).toEqual([
      '850 ms',
      '12.3 s',
      '2 min 05 s',
    ]);
  });

  it('builds permalinks Slack resolves, and ignores a domain it cannot trust', () => {
    expect(permalinkFor('example', 'C1', '1700000000.000100')).toBe(
      'https://example.slack.com/archives/C1/p1700000000000100',
    );
    expect(permalinkFor('evil.com/x?', 'C1', '1.2')).toBe('https://slack.com/archives/C1/p12');
  });

  it('splits long text into sections and caps the number of blocks', () => {
    const blocks = sectionsOf(
      Array.from({ length: 500 }, () => 'z'.repeat(100)),
      5,
    );
    expect(blocks).toHaveLength(5);
    expect(blocks.at(-1)!.type).toBe('context');
  });
});

describe('a partial status reading (status held up by a silent node)', () => {
  it(
    'names the hosts that do not answer in the card, its text and each ' +
      'node row, and says the full reading follows',
    () => {
      const expected = new Map([
        ['rabbit@lab1', 'lab1'],
        ['rabbit@lab2', 'lab2'],
        ['rabbit@lab3', 'lab3'],
      ]);
      const answers = new Map([
        ['lab1', { state: 'answering' as const }],
        ['lab2', { state: 'answering' as const }],
      ]);
      const health = knownHealth(
        'lab',
        expected,
        answers,
        'cluster_status from lab1 has not answered within 8 s; still reading',
        8000,
      );
      expect(health.partial).toEqual({
        missing: 'cluster_status from lab1 has not answered within 8 s; still reading',
        silent: ['lab3'],
      });
      expect(health.headline).toBe('degraded');
      const card = buildStatusCard(health);
      expect(card.text).toContain('lab3 (rabbit@lab3) is not answering: no SSH reply within 8 s');
      const blocks = JSON.stringify(card.blocks);
      expect(blocks).toContain('not answering: lab3; the full reading follows here');
      expect(blocks).toContain(':black_circle: *rabbit@lab3* (lab3) · *not answering*');
      expect(blocks).toContain(':white_circle: *rabbit@lab1* (lab1) · answers SSH, RabbitMQ not read yet');
      expect(blocks).toContain('partial reading');
    },
  );
});

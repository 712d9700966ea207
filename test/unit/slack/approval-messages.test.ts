import { describe, expect, it } from 'vitest';
import type { StoredAuditEntry } from '../../../src/audit/schema.js';
import type { GateReport } from '../../../src/gates/schema.js';
import type { JobView } from '../../../src/slack/job-view.js';
import {
  APPROVAL_ACTIONS_BLOCK,
  APPROVE_ACTION,
  DENY_ACTION,
  buildApprovalCard,
  buildClickRefusal,
  buildDestructiveDryRun,
  buildGateRefusal,
  busyOutcome,
  deniedOutcome,
  expiredOutcome,
  withOutcome,
  withoutButtons,
} from '../../../src/slack/messages/approval-card.js';
import type { DestructiveRequest } from '../../../src/slack/messages/approval-card.js';
import { buildAuditList } from '../../../src/slack/messages/audit-list.js';
import { buildJobCard } from '../../../src/slack/messages/job-card.js';
import type { Block } from '../../../src/slack/messages/mrkdwn.js';
import { repliesForEvent } from '../../../src/slack/reply-plan.js';
import type { PlanEntry } from '../../../src/slack/messages/plan.js';

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

const T0 = Date.parse('2026-11-25T10:00:00Z');
const reset: DestructiveRequest = { operation: 'node.reset', cluster: 'rmq-lab', node: 'mq3', nodes: ['mq3'] };
const passed: GateReport = {
  operation: 'node.reset',
  cluster: 'rmq-lab',
  node: 'mq3',
  allowed: true,
  readFrom: 'mq1',
  checks: [
    { id: 'cluster.busy', ok: true, detail: 'no other operation runs on rmq-lab' },
    { id: 'cluster.minority', ok: true, detail: '2 of 3 nodes stay running' },
  ],
  wipes: ['mq3 holds 3 queues'],
};
const plan: PlanEntry[] = [
  { host: 'mq3', step: 'rabbit:stop-app', command: 'rabbitmqctl stop_app' },
  { host: 'mq3', step: 'rabbit:reset', command: 'rabbitmqctl reset' },
];

function cardFor(request = reset, report = passed, entries = plan) {
  return buildApprovalCard({
    approvalId: 'a1b2c3d4-0000-4000-8000-000000000001',
    request,
    requester: 'U0REQ',
    createdAt: T0,
    expiresAt: T0 + 15 * 60_000,
    timeoutMinutes: 15,
    plan: entries,
    report,
  });
}

describe('approval card', () => {
  it(
    'says what will happen, to which nodes, the commands, the gates, what ' + 'it wipes, who asked and when it expires',
    () => {
      const card = cardFor();
      const text = read(card.blocks);
      expect(card.text).toBe('Approval needed: node reset rmq-lab mq3 (requested by U0REQ)');
      expect(text).toContain('Approval needed: node reset rmq-lab mq3');
      expect(text).toContain('comes back as a blank single node');
      expect(text).toContain('*Nodes:* `mq3`');
      expect(text).toContain(':white_check_mark: `cluster.minority` 2 of 3 nodes stay running');
      expect(text).toContain('(read from `mq1`)');
      expect(text).toContain(':boom: *Wipes:* mq3 holds 3 queues');
      expect(text).toContain('# rabbit:stop-app\nrabbitmqctl stop_app\n# rabbit:reset\nrabbitmqctl reset');
      expect(text).toContain(
        'requested by <@U0REQ> at <!date^1795600800^{date_short_pretty} at {time}|2026-11-25T10:00:00.000Z>',
      );
      expect(text).toContain('expires at <!date^1795601700^');
    },
  );

  it(
    'has Approve (danger, with a confirmation) and Deny, both carrying the ' +
      'approval id, in a block the outcome replaces',
    () => {
      const card = cardFor();
      const actions = card.blocks.at(-1);
      expect(actions).toMatchObject({ type: 'actions', block_id: APPROVAL_ACTIONS_BLOCK });
      const [approve, deny] = (actions as unknown as { elements: Record<string, unknown>[] }).elements;
      expect(approve).toMatchObject({
        action_id: APPROVE_ACTION,
        style: 'danger',
        value: 'a1b2c3d4-0000-4000-8000-000000000001',
        confirm: { style: 'danger' },
      });
      expect(deny).toMatchObject({ action_id: DENY_ACTION, value: 'a1b2c3d4-0000-4000-8000-000000000001' });
      expect(deny).not.toHaveProperty('style');
      expect(withoutButtons(card).blocks).toEqual(card.blocks.slice(0, -1));
    },
  );

  it('names every node of a teardown and escapes what it did not write', () => {
    const teardown: DestructiveRequest = {
      operation: 'cluster.teardown',
      cluster: 'rmq-lab',
      nodes: ['mq1', 'mq2', 'mq3'],
    };
    const hostile: GateReport = {
      ...passed,
      operation: 'cluster.teardown',
      checks: [{ id: 'node.reachable', ok: true, detail: 'ok <!channel> & co' }],
      wipes: ['<@U0ALL>'],
    };
    const text = read(cardFor(teardown, hostile, [{ host: 'mq1', step: 's', command: 'echo ```<b>```' }]).blocks);
    expect(text).toContain('Reset every node of *rmq-lab* (`mq1`, `mq2`, `mq3`)');
    expect(text).toContain('ok &lt;!channel&gt; &amp; co');
    expect(text).toContain('&lt;@U0ALL&gt;');
    expect(text).not.toContain('<!channel>');
    expect(text).toContain("echo '''&lt;b&gt;'''");
  });

  it('feature-flags enable: every node named, the flags it would enable, and that it cannot be undone', () => {
    const flags: DestructiveRequest = { operation: 'feature-flags.enable', cluster: 'rmq-lab', nodes: ['mq1', 'mq2'] };
    const report: GateReport = {
      operation: 'feature-flags.enable',
      cluster: 'rmq-lab',
      allowed: true,
      readFrom: 'mq1',
      checks: [
        { id: 'node.reachable', ok: true, detail: 'all 2 node(s) run RabbitMQ' },
        { id: 'flags.to_enable', ok: true, detail: 'would enable 1 stable feature flag(s): stream_queue' },
      ],
      wipes: [],
    };
    const card = cardFor(flags, report);
    const text = read(card.blocks);
    expect(card.text).toBe('Approval needed: feature-flags enable rmq-lab (requested by U0REQ)');
    expect(text).toContain(
      'Enable every stable feature flag of *rmq-lab* not yet enabled, on all its nodes (`mq1`, `mq2`)',
    );
    expect(text).toContain('a flag cannot be disabled again');
    expect(text).toContain(':white_check_mark: `flags.to_enable` would enable 1 stable feature flag(s): stream_queue');
    expect(text).not.toContain('*Wipes:*');
  });

  it("stays within Slack's limits for a teardown of many hosts with long plans", () => {
    const hosts = Array.from({ length: 60 }, (_, i) => `mq${i}`);
    const long = hosts.flatMap((host) =>
      Array.from({ length: 40 }, (_, j) => ({
        host,
        step: `step-${j}`,
        command: `rabbitmqctl eval ${'x'.repeat(80)}`,
      })),
    );
    const card = cardFor(
      { operation: 'cluster.teardown', cluster: 'big', nodes: hosts },
      { ...passed, operation: 'cluster.teardown' },
      long,
    );
    expect(card.blocks.length).toBeLessThanOrEqual(50);
    for (const block of card.blocks)
      if (block.type === 'section') expect(block.text!.text.length).toBeLessThanOrEqual(3000);
    expect(card.blocks.at(-1)).toMatchObject({ type: 'actions' });
  });

  it('keeps the request and puts the outcome where the buttons were', () => {
    const card = cardFor();
    const denied = withOutcome(withoutButtons(card), deniedOutcome('U0APPR', T0 + 60_000));
    expect(denied.text).toBe('node reset rmq-lab mq3 (requested by U0REQ): denied by U0APPR');
    expect(denied.blocks.some((b) => b.type === 'actions')).toBe(false);
    expect(read(denied.blocks)).toContain('comes back as a blank single node');
    expect(read(denied.blocks)).toContain(':no_entry_sign: *Denied* by <@U0APPR> at <!date^1795600860^');
    expect(read(withOutcome(card, expiredOutcome(T0 + 15 * 60_000, 15)).blocks)).toContain(
      '(nobody decided within 15 min)',
    );
    expect(
      read(
        withOutcome(card, busyOutcome('U0APPR', T0, { jobId: 'j1', link: 'https://example.slack.com/archives/C1/p1' }))
          .blocks,
      ),
    ).toContain(
      '*Approved* by <@U0APPR> at <!date^1795600800^{date_short_pretty} at ' +
        '{time}|2026-11-25T10:00:00.000Z> *but not run*: the cluster is busy ' +
        'with <https://example.slack.com/archives/C1/p1|the running operation>',
    );
  });
});

describe('gate refusal and dry run', () => {
  const refused: GateReport = {
    ...passed,
    allowed: false,
    checks: [
      ...passed.checks,
      {
        id: 'node.last_running_disk',
        ok: false,
        detail: 'rabbit@mq3 is the last running disk node',
        remedy: 'start another disk node first',
      },
    ],
  };

  it('the refusal names each failed gate with what would make it possible, and no passed ones', () => {
    const message = buildGateRefusal(reset, refused);
    const text = read(message.blocks);
    expect(text).toContain('*node reset rmq-lab mq3* was refused by the safety gates');
    expect(text).toContain(
      '• `node.last_running_disk` rabbit@mq3 is the last running disk ' +
        'node\n    _to make it possible:_ start another disk node first',
    );
    expect(text).not.toContain('cluster.minority');
    expect(message.blocks.some((b) => b.type === 'actions')).toBe(false);
  });

  it('the dry run shows the gates (failed ones too) and the commands, without buttons', () => {
    const message = buildDestructiveDryRun(reset, plan, refused);
    expect(message.text).toBe('Dry run of node reset rmq-lab mq3: 2 commands; gates refused');
    expect(read(message.blocks)).toContain(':x: `node.last_running_disk`');
    expect(read(message.blocks)).toContain('rabbitmqctl reset');
    expect(message.blocks.some((b) => b.type === 'actions')).toBe(false);
  });

  it('each click refusal says what to do instead', () => {
    expect(read(buildClickRefusal({ reason: 'not_approver', user: 'U0OPS' }).blocks)).toContain(
      'add `approver` to `U0OPS`',
    );
    expect(read(buildClickRefusal({ reason: 'own_request' }).blocks)).toContain('slack.allowSelfApproval');
    expect(buildClickRefusal({ reason: 'decided', state: 'approved', by: 'U0APPR', atMs: T0 }).text).toBe(
      'This request was already approved by <@U0APPR> at 2026-11-25T10:00:00.000Z.',
    );
    expect(buildClickRefusal({ reason: 'expired', atMs: T0 }).text).toBe(
      'This request expired at 2026-11-25T10:00:00.000Z; nothing was run.',
    );
  });
});

describe('job card of an approved operation', () => {
  const view: JobView = {
    jobId: 'job-9',
    operation: 'node.reset',
    cluster: 'rmq-lab',
    state: 'completed',
    attempt: 1,
    steps: [],
  };

  it('titles the node and keeps who asked and who approved', () => {
    const card = buildJobCard(view, {
      user: 'U0REQ',
      node: 'mq3',
      approvedBy: 'U0APPR',
      approvedAt: '2026-11-25T10:01:00.000Z',
      requestedAt: '2026-11-25T10:00:00.000Z',
    });
    expect(card.text).toBe('node.reset rmq-lab mq3: completed');
    expect(read(card.blocks)).toContain(
      'requested by <@U0REQ> · approved by <@U0APPR> at 2026-11-25T10:01:00.000Z · job `job-9`',
    );
    expect(read(card.blocks)).toContain('the result, per node, is in the thread');
    expect(read(card.blocks)).not.toContain('transport_url');
  });
});

describe('the end of a maintenance operation in the thread', () => {
  const health = {
    cluster: 'rmq-lab',
    headline: 'healthy' as const,
    readFrom: 'mq1',
    nodes: ['mq1', 'mq2'].map((host) => ({
      node: `rabbit@${host}`,
      host,
      running: true,
      alarms: [],
      partitionedFrom: [],
    })),
    problems: [],
    expected: ['rabbit@mq1', 'rabbit@mq2'],
  };
  const result = {
    cluster: 'rmq-lab',
    node: 'mq3',
    summary: 'mq3 reset: a blank single node; mq1, mq2 still clustered',
    health,
    nodes: [{ host: 'mq3', outcome: 'reset, running alone' }],
    warnings: ['mq3 had 3 queues'],
    steps: [{ id: 'rabbit:reset', state: 'done' as const }],
  };
  const completed = (value: unknown) =>
    repliesForEvent(
      {
        type: 'job',
        jobId: 'j',
        operation: 'node.reset',
        cluster: 'rmq-lab',
        state: 'completed',
        attempt: 1,
        result: value,
        at: '2026-11-25T10:02:00Z',
      },
      {
        jobId: 'j',
        operation: 'node.reset',
        cluster: 'rmq-lab',
        state: 'completed',
        attempt: 1,
        steps: [],
        result: value,
      },
    );

  it("replies with the summary, each node's outcome and the warnings, then the status card of what is left", () => {
    const replies = completed(result);
    expect(replies.map((r) => r.key)).toEqual(['job:result', 'job:status']);
    const text = read(replies[0].message.blocks);
    expect(text).toContain('mq3 reset: a blank single node; mq1, mq2 still clustered');
    expect(text).toContain('• `mq3`: reset, running alone');
    expect(text).toContain('• mq3 had 3 queues');
    expect(replies[1].message.text).toBe('rmq-lab is healthy');
  });

  it('after a teardown (no cluster left) replies with the result only', () => {
    expect(completed({ ...result, health: undefined, summary: 'rmq-lab torn down' }).map((r) => r.key)).toEqual([
      'job:result',
    ]);
  });
});

describe('audit list', () => {
  const entry = (id: string, fields: Partial<StoredAuditEntry['entry']>): StoredAuditEntry => ({
    id,
    entry: {
      at: '2026-11-25T10:00:00.000Z',
      event: 'requested',
      operation: 'node.reset',
      cluster: 'rmq-lab',
      node: 'mq3',
      actor: 'U0REQ',
      via: 'slack',
      ...fields,
    },
  });

  it('lists who, what, when and how it ended, newest last, as given', () => {
    const list = buildAuditList([
      entry('1-0', {}),
      entry('2-0', { event: 'approved', actor: 'U0APPR', approvalId: 'a1' }),
      entry('3-0', { event: 'completed', actor: 'U0REQ', via: 'worker', jobId: 'job-9' }),
      entry('4-0', { event: 'refused', actor: 'cli:alice', via: 'cli', detail: '--yes: <chat approval bypassed>' }),
    ]);
    const lines = read(list.blocks).split('\n');
    expect(lines[0]).toBe('*Audit log*');
    expect(lines[1]).toMatch(
      /^:raised_hand: <!date\^1795600800\^.*> \*requested\* node.reset rmq-lab mq3 · by <@U0REQ>$/,
    );
    expect(lines[2]).toContain('*approved* node.reset rmq-lab mq3 · by <@U0APPR>');
    expect(lines[3]).toContain('*completed* node.reset rmq-lab mq3 · by <@U0REQ> (worker) · job `job-9`');
    expect(lines[4]).toContain('by `cli:alice` (CLI) — --yes: &lt;chat approval bypassed&gt;');
    expect(list.text.split('\n')[0]).toBe('2026-11-25T10:00:00.000Z requested node.reset rmq-lab mq3 by U0REQ');
  });

  it('says so when there is nothing yet', () => {
    expect(buildAuditList([], 'rmq-lab').text).toBe('No audit entries for rmq-lab yet.');
  });
});

/**
 * Fuzz: random hostile texts (Slack markup, entities, ANSI sequences, C0/C1, bidi, lone surrogates,
 * very long strings) in every field a host, Redis or a request can fill, into every Slack message
 * builder and every terminal renderer. No unescaped `<`, `>`, `&` and no control character leaves
 * them, while the markup we build ourselves (mentions, dates, links to messages) still works.
 */
import { describe, expect, it } from 'vitest';
import type { StoredAuditEntry } from '../../../src/audit/schema.js';
import { renderAudit, renderEvent, renderGates, renderHealth, renderPlan } from '../../../src/cli/render.js';
import type { GateReport } from '../../../src/gates/schema.js';
import type { ProgressEvent } from '../../../src/operations/progress.js';
import type { ClusterHealth } from '../../../src/rabbit/cluster-status.js';
import type { JobView, SerializedEventError, StepView } from '../../../src/slack/job-view.js';
import {
  buildApprovalCard,
  buildClickRefusal,
  buildDestructiveDryRun,
  buildGateRefusal,
  busyOutcome,
  deniedOutcome,
  notQueuedOutcome,
  withOutcome,
} from '../../../src/slack/messages/approval-card.js';
import type { DestructiveRequest } from '../../../src/slack/messages/approval-card.js';
import { buildAuditList } from '../../../src/slack/messages/audit-list.js';
import { buildJobCard, buildNotStartedCard } from '../../../src/slack/messages/job-card.js';
import { buildJobsList } from '../../../src/slack/messages/jobs-list.js';
import { permalinkFor } from '../../../src/slack/messages/mrkdwn.js';
import type { SlackMessage } from '../../../src/slack/messages/mrkdwn.js';
import { buildBusyNotice, buildPlan } from '../../../src/slack/messages/plan.js';
import { buildProblem, buildRefusal, problemAfterAck } from '../../../src/slack/messages/refusal.js';
import {
  buildFailureReply,
  buildMaintenanceReply,
  buildRetryReply,
  buildStepReply,
  buildTransportReply,
} from '../../../src/slack/messages/replies.js';
import { buildClusterSummary, buildStatusCard } from '../../../src/slack/messages/status-card.js';
import { buildHelp, buildUsageError } from '../../../src/slack/messages/usage.js';
import * as approvalCard from '../../../src/slack/messages/approval-card.js';
import * as auditList from '../../../src/slack/messages/audit-list.js';
import * as jobCard from '../../../src/slack/messages/job-card.js';
import * as jobsList from '../../../src/slack/messages/jobs-list.js';
import * as plan from '../../../src/slack/messages/plan.js';
import * as refusal from '../../../src/slack/messages/refusal.js';
import * as replies from '../../../src/slack/messages/replies.js';
import * as statusCard from '../../../src/slack/messages/status-card.js';
import * as usage from '../../../src/slack/messages/usage.js';
import { TERMINAL_FORBIDDEN, hostileText, seededRandom, unescapedIn } from '../../slack/escaping.js';

const ROUNDS = 150;
const OPERATOR = 'U0OPERATOR';
const APPROVER = 'U0APPROVER';

type Next = () => number;

const pick = <T>(next: Next, items: readonly T[]): T => items[Math.floor(next() * items.length)];
const maybe = <T>(next: Next, value: () => T): T | undefined => (next() < 0.5 ? value() : undefined);
const many = <T>(next: Next, make: () => T, max = 4): T[] =>
  Array.from({ length: Math.floor(next() * (max + 1)) }, make);

function error(next: Next): SerializedEventError {
  return {
    code: 'command.failed',
    message: hostileText(next),
    retryable: next() < 0.5,
    ...(next() < 0.5 ? { host: hostileText(next) } : {}),
    ...(next() < 0.5 ? { step: hostileText(next) } : {}),
    ...(next() < 0.7
      ? { evidence: { host: hostileText(next), command: hostileText(next), exitCode: 69, stderr: hostileText(next) } }
      : {}),
    ...(next() < 0.5 ? { hint: hostileText(next) } : {}),
  };
}

function health(next: Next): ClusterHealth {
  return {
    cluster: hostileText(next),
    headline: pick(next, ['healthy', 'degraded', 'partitioned', 'unreachable'] as const),
    ...(next() < 0.7 ? { readFrom: hostileText(next) } : {}),
    nodes: many(next, () => ({
      node: hostileText(next),
      ...(next() < 0.5 ? { host: hostileText(next) } : {}),
      running: next() < 0.5,
      ...(next() < 0.5 ? { rabbitmqVersion: hostileText(next), erlangVersion: hostileText(next) } : {}),
      alarms: many(next, () => hostileText(next), 2),
      ...(next() < 0.5 ? { maintenance: hostileText(next) } : {}),
      partitionedFrom: many(next, () => hostileText(next), 2),
    })),
    problems: many(next, () => hostileText(next)),
    expected: many(next, () => hostileText(next)),
  };
}

function step(next: Next): StepView {
  return {
    id: hostileText(next),
    title: hostileText(next),
    state: pick(next, ['pending', 'running', 'done', 'skipped', 'failed'] as const),
    ...(next() < 0.5 ? { durationMs: Math.floor(next() * 100_000) } : {}),
    ...(next() < 0.6 ? { detail: hostileText(next) } : {}),
    ...(next() < 0.4 ? { error: error(next) } : {}),
    attempt: 1,
    reported: next() < 0.5,
    hosts: many(next, () => ({
      host: hostileText(next),
      state: pick(next, ['running', 'done', 'skipped', 'failed'] as const),
      ...(next() < 0.6 ? { detail: hostileText(next) } : {}),
      ...(next() < 0.3 ? { error: error(next) } : {}),
    })),
  };
}

function jobView(next: Next): JobView {
  return {
    jobId: hostileText(next),
    operation: hostileText(next),
    cluster: hostileText(next),
    state: pick(next, ['queued', 'started', 'retrying', 'completed', 'failed'] as const),
    attempt: 1 + Math.floor(next() * 3),
    steps: many(next, () => step(next)),
    ...(next() < 0.7 ? { error: error(next) } : {}),
  };
}

function gateReport(next: Next): GateReport {
  return {
    operation: 'node.reset',
    cluster: hostileText(next),
    node: hostileText(next),
    allowed: next() < 0.5,
    checks: many(
      next,
      () => ({
        id: 'node.reachable' as const,
        ok: next() < 0.5,
        detail: hostileText(next),
        ...(next() < 0.5 ? { remedy: hostileText(next) } : {}),
      }),
      3,
    ),
    ...(next() < 0.5 ? { readFrom: hostileText(next) } : {}),
    ...(next() < 0.5 ? { wipes: many(next, () => hostileText(next), 2) } : {}),
  };
}

function request(next: Next): DestructiveRequest {
  return {
    operation: pick(next, ['node.reset', 'node.remove', 'node.add', 'cluster.teardown'] as const),
    cluster: hostileText(next),
    node: hostileText(next),
    nodes: many(next, () => hostileText(next), 3),
  };
}

const planEntries = (next: Next) =>
  many(next, () => ({
    host: hostileText(next),
    step: hostileText(next),
    command: hostileText(next),
    ...(next() < 0.5 ? { when: hostileText(next) } : {}),
  }));
/** A user field: one of our people (mentioned), or whatever Redis or a payload held (escaped). */
const someone = (next: Next) => (next() < 0.5 ? pick(next, [OPERATOR, APPROVER]) : hostileText(next));
/** A link field: a real link to a message, or whatever Redis held. */
const someLink = (next: Next) =>
  next() < 0.5 ? permalinkFor('example', 'C0123', '1700000000.000100') : hostileText(next);

function auditEntries(next: Next): StoredAuditEntry[] {
  return many(next, () => ({
    id: '1-0',
    entry: {
      at: new Date(1_700_000_000_000).toISOString(),
      event: pick(next, ['requested', 'approved', 'failed'] as const),
      operation: 'node.reset' as const,
      cluster: hostileText(next),
      ...(next() < 0.5 ? { node: hostileText(next) } : {}),
      actor: pick(next, [OPERATOR, `cli:${hostileText(next)}`, hostileText(next)]),
      via: pick(next, ['slack', 'cli', 'worker'] as const),
      ...(next() < 0.5 ? { jobId: hostileText(next), approvalId: hostileText(next) } : {}),
      ...(next() < 0.7 ? { detail: hostileText(next) } : {}),
    },
  }));
}

/** Every Slack builder, each fed hostile values in every field it shows. */
const SLACK_BUILDERS: Record<string, (next: Next) => SlackMessage> = {
  statusCard: (next) => buildStatusCard(health(next)),
  clusterSummary: (next) =>
    buildClusterSummary(
      many(next, () =>
        next() < 0.5
          ? { cluster: hostileText(next), health: health(next) }
          : { cluster: hostileText(next), error: hostileText(next) },
      ),
    ),
  jobCard: (next) =>
    buildJobCard(jobView(next), {
      user: someone(next),
      ...(next() < 0.5 ? { node: hostileText(next), requestedAt: hostileText(next) } : {}),
      ...(next() < 0.5 ? { approvedBy: someone(next), approvedAt: hostileText(next) } : {}),
    }),
  notStartedCard: (next) =>
    buildNotStartedCard(
      hostileText(next),
      someone(next),
      maybe(next, () => someLink(next)),
    ),
  stepReply: (next) => buildStepReply(step(next)),
  retryReply: (next) => buildRetryReply(jobView(next)),
  failureReply: (next) => buildFailureReply(jobView(next)),
  transportReply: (next) =>
    buildTransportReply({
      cluster: hostileText(next),
      health: health(next),
      replication: { mode: 'quorum', detail: hostileText(next) },
      warnings: many(next, () => hostileText(next)),
      transportUrl: hostileText(next),
      steps: [],
    }),
  maintenanceReply: (next) =>
    buildMaintenanceReply({
      cluster: hostileText(next),
      summary: hostileText(next),
      nodes: many(next, () => ({ host: hostileText(next), outcome: hostileText(next) })),
      warnings: many(next, () => hostileText(next)),
      steps: [],
    }),
  refusal: (next) =>
    buildRefusal(
      pick(next, [
        { reason: 'channel' as const, channel: hostileText(next) },
        { reason: 'user' as const, user: hostileText(next) },
        {
          reason: 'role' as const,
          user: hostileText(next),
          needs: 'operator' as const,
          has: ['viewer' as const],
          command: hostileText(next),
        },
      ]),
    ),
  problem: (next) => buildProblem(hostileText(next), hostileText(next)),
  problemAfterAck: (next) => problemAfterAck(new Error(hostileText(next))),
  approvalCard: (next) =>
    buildApprovalCard({
      approvalId: hostileText(next),
      request: request(next),
      requester: someone(next),
      createdAt: 1_700_000_000_000,
      expiresAt: 1_700_000_900_000,
      timeoutMinutes: 15,
      plan: planEntries(next),
      report: gateReport(next),
    }),
  approvalOutcome: (next) => {
    const card = buildApprovalCard({
      approvalId: 'a1',
      request: request(next),
      requester: someone(next),
      createdAt: 1_700_000_000_000,
      expiresAt: 1_700_000_900_000,
      timeoutMinutes: 15,
      plan: [],
      report: gateReport(next),
    });
    const outcome = pick(next, [
      deniedOutcome(someone(next), 1_700_000_100_000),
      busyOutcome(someone(next), 1_700_000_100_000, {
        jobId: hostileText(next),
        ...(next() < 0.5 ? { link: someLink(next) } : {}),
      }),
      notQueuedOutcome(someone(next), 1_700_000_100_000, hostileText(next)),
    ]);
    return withOutcome(card, outcome);
  },
  destructiveDryRun: (next) => buildDestructiveDryRun(request(next), planEntries(next), gateReport(next)),
  gateRefusal: (next) => buildGateRefusal(request(next), gateReport(next)),
  clickRefusal: (next) =>
    buildClickRefusal(
      pick(next, [
        { reason: 'not_approver' as const, user: hostileText(next) },
        { reason: 'decided' as const, state: 'approved' as const, by: someone(next), atMs: 1_700_000_000_000 },
      ]),
    ),
  auditList: (next) =>
    buildAuditList(
      auditEntries(next),
      maybe(next, () => hostileText(next)),
    ),
  jobsList: (next) =>
    buildJobsList(
      many(next, () => ({
        jobId: hostileText(next),
        operation: hostileText(next),
        cluster: hostileText(next),
        state: pick(next, ['active', 'failed', hostileText(next)]),
        requestedBy: someone(next),
        ...(next() < 0.5 ? { requestedAt: new Date(1_700_000_000_000).toISOString() } : {}),
        ...(next() < 0.5 ? { cardLink: someLink(next) } : {}),
        ...(next() < 0.5 ? { failedReason: hostileText(next) } : {}),
      })),
      new Date(1_700_000_500_000),
    ),
  plan: (next) => buildPlan(hostileText(next), planEntries(next), { offerCreate: next() < 0.5 }),
  busyNotice: (next) =>
    buildBusyNotice(hostileText(next), {
      jobId: hostileText(next),
      ...(next() < 0.5 ? { link: someLink(next) } : {}),
      ...(next() < 0.5 ? { by: hostileText(next) } : {}),
    }),
  help: () => buildHelp(),
  usageError: (next) =>
    buildUsageError({
      code: 'usage.unknown_command',
      message: hostileText(next),
      usage: many(next, () => `${hostileText(next)} — ${hostileText(next)}`),
    }),
};

/** Every terminal renderer, each fed hostile values in every field it prints. */
const TERMINAL_RENDERERS: Record<string, (next: Next) => string | undefined> = {
  health: (next) => renderHealth(health(next)),
  gates: (next) => renderGates(gateReport(next)),
  plan: (next) => renderPlan(hostileText(next), planEntries(next), hostileText(next)),
  audit: (next) => renderAudit(auditEntries(next)),
  event: (next) => {
    const base = {
      jobId: hostileText(next),
      operation: 'cluster.create' as const,
      cluster: hostileText(next),
      at: new Date().toISOString(),
    };
    const events: ProgressEvent[] = [
      { ...base, type: 'step', step: hostileText(next), state: 'running' },
      {
        ...base,
        type: 'step',
        step: hostileText(next),
        state: 'done',
        host: hostileText(next),
        durationMs: 10,
        detail: hostileText(next),
      },
      { ...base, type: 'job', state: 'queued', attempt: 1 },
      { ...base, type: 'job', state: 'failed', attempt: 1, error: error(next) },
      { ...base, type: 'job', state: 'retrying', attempt: 1, error: error(next) },
      {
        ...base,
        type: 'job',
        state: 'completed',
        attempt: 1,
        result: {
          cluster: hostileText(next),
          health: health(next),
          replication: { mode: 'quorum', detail: hostileText(next) },
          warnings: [hostileText(next)],
          transportUrl: hostileText(next),
          steps: [],
        },
      },
      {
        ...base,
        type: 'job',
        state: 'completed',
        attempt: 1,
        result: {
          cluster: 'c',
          summary: hostileText(next),
          nodes: [{ host: hostileText(next), outcome: hostileText(next) }],
          warnings: [hostileText(next)],
          steps: [],
        },
      },
    ];
    return renderEvent(pick(next, events));
  },
};

/** The builders each fuzz case calls, by the name it is exported as. */
const COVERED = new Set([
  'buildStatusCard',
  'buildClusterSummary',
  'buildJobCard',
  'buildNotStartedCard',
  'buildStepReply',
  'buildRetryReply',
  'buildFailureReply',
  'buildTransportReply',
  'buildMaintenanceReply',
  'buildRefusal',
  'buildProblem',
  'buildApprovalCard',
  'buildDestructiveDryRun',
  'buildGateRefusal',
  'buildClickRefusal',
  'buildAuditList',
  'buildJobsList',
  'buildPlan',
  'buildBusyNotice',
  'buildUsageError',
  'buildHelp',
]);

describe('Slack message builders on hostile input', () => {
  it('fuzzes every builder the messages modules export (a new one must be added here)', () => {
    const exported = [approvalCard, auditList, jobCard, jobsList, plan, refusal, replies, statusCard, usage].flatMap(
      (module) => Object.keys(module).filter((name) => name.startsWith('build')),
    );

    expect(exported.filter((name) => !COVERED.has(name))).toEqual([]);
  });

  it.each(Object.keys(SLACK_BUILDERS))('%s escapes everything it did not write, in text and every block', (name) => {
    const next = seededRandom(name.length * 7919 + name.charCodeAt(0));
    for (let round = 0; round < ROUNDS; round++) {
      const message = SLACK_BUILDERS[name](next);
      expect(unescapedIn(message), `${name}, round ${round}`).toEqual([]);
    }
  });

  it('keeps the markup we build: mentions of people, date tokens and links to messages', () => {
    const card = buildJobCard(
      { jobId: 'j1', operation: 'cluster.create', cluster: 'rmq-lab', state: 'queued', attempt: 0, steps: [] },
      { user: OPERATOR },
    );
    expect(JSON.stringify(card.blocks)).toContain(`<@${OPERATOR}>`);

    const outcome = withOutcome(
      buildApprovalCard({
        approvalId: 'a1',
        request: { operation: 'node.reset', cluster: 'rmq-lab', node: 'mq3', nodes: ['mq3'] },
        requester: OPERATOR,
        createdAt: 1_700_000_000_000,
        expiresAt: 1_700_000_900_000,
        timeoutMinutes: 15,
        plan: [],
        report: { operation: 'node.reset', cluster: 'rmq-lab', allowed: true, checks: [] },
      }),
      busyOutcome(APPROVER, 1_700_000_100_000, {
        jobId: 'j2',
        link: permalinkFor('example', 'C0123', '1700000000.000100'),
      }),
    );
    const blocks = JSON.stringify(outcome.blocks);
    expect(blocks).toContain('<!date^1700000100^{date_short_pretty} at {time}|');
    expect(blocks).toContain('<https://example.slack.com/archives/C0123/p1700000000000100|the running operation>');

    const hostile = buildStatusCard({
      cluster: 'rmq-lab',
      headline: 'degraded',
      readFrom: 'mq1',
      nodes: [],
      problems: ['rabbit@<!channel> is stopped & <https://evil|click>'],
      expected: [],
    });
    expect(hostile.text).toBe(
      'rmq-lab is degraded: rabbit@&lt;!channel&gt; is stopped &amp; &lt;https://evil|click&gt;',
    );
  });
});

describe('terminal renderers on hostile input', () => {
  it.each(Object.keys(TERMINAL_RENDERERS))(
    '%s prints no control character or escape sequence from host data',
    (name) => {
      const next = seededRandom(name.length * 104_729 + name.charCodeAt(0));
      for (let round = 0; round < ROUNDS; round++) {
        const text = TERMINAL_RENDERERS[name](next) ?? '';
        const found = TERMINAL_FORBIDDEN.exec(text);
        expect(
          found && JSON.stringify(text.slice(Math.max(0, found.index - 20), found.index + 20)),
          `${name}, round ${round}`,
        ).toBeNull();
      }
    },
  );
});

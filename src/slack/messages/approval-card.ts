import type { GateCheck, GateReport } from '../../gates/schema.js';
import type { DestructiveOperation } from '../../gates/schema.js';
import type { Block, SlackMessage, SlackText } from './mrkdwn.js';
import {
  appendText,
  codeBlock,
  context,
  escapeText,
  header,
  inlineCode,
  link,
  mention,
  plainFromMrkdwn,
  plainText,
  section,
  sectionsOf,
} from './mrkdwn.js';
import type { PlanEntry } from './plan.js';
import { migrationBlocks } from './migration-blocks.js';

/** The approval card's buttons (listeners/actions registers one listener for each). */
export const APPROVE_ACTION = 'approval_approve';
export const DENY_ACTION = 'approval_deny';
/** The block that holds the buttons: removed, and replaced by the outcome, once decided or expired. */
export const APPROVAL_ACTIONS_BLOCK = 'approval_actions';

/** What a destructive request is about: the operation, its cluster and node, and every node it touches. */
export interface DestructiveRequest {
  operation: DestructiveOperation;
  cluster: string;
  node?: string;
  /** The nodes the operation acts on: the one node, or every node of the cluster for a teardown. */
  nodes: string[];
}

/** The request as the user would type it, e.g. "node reset rmq-lab mq3". */
export function requestLabel(request: Pick<DestructiveRequest, 'operation' | 'cluster' | 'node'>): string {
  return [request.operation.replace('.', ' '), request.cluster, request.node].filter(Boolean).join(' ');
}

/** What will happen, in one paragraph an approver can judge. */
export function describeEffect(request: DestructiveRequest): string {
  const node = inlineCode(request.node ?? '');
  const cluster = `*${escapeText(request.cluster)}*`;
  switch (request.operation) {
    case 'node.reset':
      return (
        `Stop the RabbitMQ app on ${node}, \`rabbitmqctl reset\` it and start ` +
        `it again: it leaves ${cluster} and comes back as a blank single node. ` +
        `Its queues, messages, users and membership are wiped.`
      );
    case 'node.remove':
      return (
        `Stop ${node}, \`forget_cluster_node\` it from a running peer of ` +
        `${cluster}, then reset it so it cannot rejoin by itself. ${cluster} ` +
        `no longer counts it, and its data is wiped.`
      );
    case 'node.add':
      return (
        `Install RabbitMQ on ${node}, give it ${cluster}'s Erlang cookie and ` +
        `join it to ${cluster}. The join wipes whatever ${node} holds (queues, ` +
        `users, another cluster's membership).`
      );
    case 'cluster.teardown':
      return (
        `Reset every node of ${cluster} (` +
        `${request.nodes.map(inlineCode).join(', ')}): the cluster ceases to ` +
        `exist and every node's queues, messages and users are wiped.`
      );
    case 'cluster.migrate-to-quorum':
      return (
        `Remove the classic mirroring policies (ha-mode) of ${cluster} and make quorum the default queue type of ` +
        `every vhost: queues declared from now on without a type are quorum queues. Classic queues stay (listed ` +
        `below); deleting them is a separate request.`
      );
    case 'cluster.delete-classic-queues':
      return (
        `Delete exactly the classic queues of ${cluster} listed below, with their messages. A queue that gets a ` +
        `consumer or more messages before the job reaches it, or one not listed, is kept and named in the result.`
      );
    case 'feature-flags.enable':
      return (
        `Enable every stable feature flag of ${cluster} not yet enabled, on all its nodes (` +
        `${request.nodes.map(inlineCode).join(', ')}) at once. No data is touched, but a flag ` +
        `cannot be disabled again: nodes of an older RabbitMQ can no longer join ${cluster}.`
      );
    case 'cluster.restart':
      return (
        `Restart every node of ${cluster} in turn, the seed last (` +
        `${request.nodes.map(inlineCode).join(', ')}): each waits until no quorum queue depends on it, ` +
        `is drained, restarted and revived. Nothing is wiped; clients reconnect to the other nodes.`
      );
  }
}

/** A Slack date token: every reader sees it in their own time zone; the ISO time is the fallback. */
export function slackTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} at {time}|${iso}>`;
}

export interface ApprovalCardInput {
  approvalId: string;
  request: DestructiveRequest;
  requester: string;
  createdAt: number;
  expiresAt: number;
  timeoutMinutes: number;
  plan: PlanEntry[];
  report: GateReport;
}

/**
 * The approval card: what will happen, to which nodes, the dry run's commands, the gates'
 * results and what the operation wipes, who asked and when it expires; then Approve (danger, with
 * a confirmation dialog) and Deny, both carrying the approval id.
 */
export function buildApprovalCard(input: ApprovalCardInput): SlackMessage {
  const { request, report } = input;
  const label = requestLabel(request);
  const blocks: Block[] = [
    header(`Approval needed: ${label}`),
    section(`:warning: ${describeEffect(request)}`),
    section(`*Nodes:* ${request.nodes.map(inlineCode).join(', ')}`),
    ...gateBlocks(report),
    ...planBlocks(input.plan, label, 30),
    context(
      `requested by ${mention(input.requester)} at ` +
        `${slackTime(input.createdAt)} · expires at ` +
        `${slackTime(input.expiresAt)} (${input.timeoutMinutes} min) · an ` +
        `approver other than the requester decides`,
    ),
    {
      type: 'actions',
      block_id: APPROVAL_ACTIONS_BLOCK,
      elements: [
        {
          type: 'button',
          action_id: APPROVE_ACTION,
          text: { type: 'plain_text', text: 'Approve' },
          style: 'danger',
          value: input.approvalId,
          confirm: {
            title: { type: 'plain_text', text: 'Approve this operation?' },
            text: { type: 'mrkdwn', text: `${escapeText(label.slice(0, 200))} runs at once and cannot be undone.` },
            confirm: { type: 'plain_text', text: 'Approve and run' },
            deny: { type: 'plain_text', text: 'Cancel' },
            style: 'danger',
          },
        },
        { type: 'button', action_id: DENY_ACTION, text: { type: 'plain_text', text: 'Deny' }, value: input.approvalId },
      ],
    },
  ];
  return { text: plainText(`Approval needed: ${label} (requested by ${input.requester})`), blocks };
}

/** The card as it stays once decided or expired: everything but the buttons. */
export function withoutButtons(card: SlackMessage): SlackMessage {
  return {
    text: card.text,
    blocks: card.blocks.filter((block) => !(block.type === 'actions' && block.block_id === APPROVAL_ACTIONS_BLOCK)),
  };
}

/** The saved card (no buttons) with its outcome underneath. */
export function withOutcome(card: SlackMessage, outcome: { icon: string; line: string; text: string }): SlackMessage {
  return {
    text: appendText(card.text.replace(/^Approval needed: /, '') as SlackText, `: ${outcome.text}`),
    blocks: [...withoutButtons(card).blocks, section(`${outcome.icon} ${outcome.line}`)],
  };
}

export function deniedOutcome(user: string, atMs: number): { icon: string; line: string; text: string } {
  return {
    icon: ':no_entry_sign:',
    line: `*Denied* by ${mention(user)} at ${slackTime(atMs)}. Nothing was run.`,
    text: `denied by ${user}`,
  };
}

export function expiredOutcome(atMs: number, timeoutMinutes: number): { icon: string; line: string; text: string } {
  return {
    icon: ':hourglass:',
    line:
      `*Expired* at ${slackTime(atMs)} (nobody decided within ` +
      `${timeoutMinutes} min). Nothing was run; ask again if it is still ` +
      `needed.`,
    text: 'expired',
  };
}

export function busyOutcome(
  user: string,
  atMs: number,
  running: { jobId: string; link?: string },
): { icon: string; line: string; text: string } {
  const where = running.link ? link(running.link, 'the running operation') : `job ${inlineCode(running.jobId)}`;
  return {
    icon: ':no_entry_sign:',
    line:
      `*Approved* by ${mention(user)} at ${slackTime(atMs)} *but not run*: ` +
      `the cluster is busy with ${where}. Ask again once it ends.`,
    text: 'approved but not run: cluster busy',
  };
}

export function notQueuedOutcome(
  user: string,
  atMs: number,
  reason: string,
): { icon: string; line: string; text: string } {
  return {
    icon: ':warning:',
    line:
      `*Approved* by ${mention(user)} at ${slackTime(atMs)} *but not run*: ` +
      `it could not be queued (${escapeText(reason.slice(0, 300))}). Ask ` +
      `again.`,
    text: 'approved but not run: could not be queued',
  };
}

/** The gates' verdict, one line per check. */
export function gateBlocks(report: GateReport): Block[] {
  const lines = [
    `*Safety gates* ${report.allowed ? '— all passed' : '— refused'}` +
      `${report.readFrom ? ` (read from ${inlineCode(report.readFrom)})` : ''}`,
    ...report.checks.map(gateLine),
  ];
  const blocks = sectionsOf(lines, 3);
  if (report.migration) return [...blocks, ...migrationBlocks(report)];
  if (report.wipes && report.wipes.length > 0)
    blocks.push(section(`:boom: *Wipes:* ${report.wipes.map(escapeText).join('; ')}`));
  return blocks;
}

function gateLine(check: GateCheck): string {
  const remedy = !check.ok && check.remedy ? `\n    _to make it possible:_ ${escapeText(check.remedy)}` : '';
  return `${check.ok ? ':white_check_mark:' : ':x:'} ${inlineCode(check.id)} ${escapeText(check.detail)}${remedy}`;
}

/** The dry run's commands per host, at most `room` hosts. */
function planBlocks(entries: PlanEntry[], label: string, room: number): Block[] {
  if (entries.length === 0) return [section('*Commands:* none (nothing to do)')];
  const byHost = new Map<string, PlanEntry[]>();
  for (const entry of entries) byHost.set(entry.host, [...(byHost.get(entry.host) ?? []), entry]);
  const blocks: Block[] = [];
  for (const [host, hostEntries] of byHost) {
    const script = hostEntries.map((e) => `# ${e.step}${e.when ? ` (${e.when})` : ''}\n${e.command}`).join('\n');
    blocks.push(section(`*Commands on ${escapeText(host)}*\n${codeBlock(script, 2700)}`));
  }
  if (blocks.length <= room) return blocks;
  return [
    ...blocks.slice(0, room),
    context(`… ${blocks.length - room} more hosts; \`/rabbit ${escapeText(label)} --dry-run\` lists them`),
  ];
}

/** `--dry-run` of a destructive operation: the commands and the gates, privately; nothing asked, nothing run. */
export function buildDestructiveDryRun(
  request: DestructiveRequest,
  plan: PlanEntry[],
  report: GateReport,
): SlackMessage {
  const label = requestLabel(request);
  return {
    text: plainText(`Dry run of ${label}: ${plan.length} commands; gates ${report.allowed ? 'passed' : 'refused'}`),
    blocks: [
      header(`Dry run: ${label}`),
      context(
        'Nothing was changed and nobody was asked. Without --dry-run this posts an approval card for an approver.',
      ),
      section(describeEffect(request)),
      ...gateBlocks(report),
      ...planBlocks(plan, label, 40),
    ],
  };
}

/** The private answer when the gates refuse a request: each failed gate's reason and what would make it possible. */
export function buildGateRefusal(request: DestructiveRequest, report: GateReport): SlackMessage {
  const failed = report.checks.filter((c) => !c.ok);
  const lines = failed.map(
    (c) =>
      `• ${inlineCode(c.id)} ${escapeText(c.detail)}` +
      `${c.remedy ? `\n    _to make it possible:_ ${escapeText(c.remedy)}` : ''}`,
  );
  return {
    text: plainText(`${requestLabel(request)} refused by the safety gates: ${failed.map((c) => c.detail).join('; ')}`),
    blocks: [
      section(
        `:no_entry: *${escapeText(requestLabel(request))}* was refused by the safety gates; nothing was asked or run.`,
      ),
      ...sectionsOf(lines, 10),
    ],
  };
}

/** Why a click on Approve or Deny changed nothing. */
export type ApprovalClickRefusal =
  | { reason: 'not_approver'; user: string }
  | { reason: 'own_request' }
  | { reason: 'unknown' }
  | { reason: 'decided'; state: 'approved' | 'denied'; by?: string; atMs?: number }
  | { reason: 'expired'; atMs?: number };

/** The private answer to a click that changed nothing. */
export function buildClickRefusal(refusal: ApprovalClickRefusal): SlackMessage {
  switch (refusal.reason) {
    case 'not_approver':
      return notice(
        'Sorry, deciding on a destructive operation needs the *approver* role.',
        `Ask a warren admin to add \`approver\` to ${inlineCode(refusal.user)} ` +
          `under \`slack.users\`, or ask an approver to decide.`,
      );
    case 'own_request':
      return notice(
        'You asked for this operation, so someone else must approve it.',
        "Ask another approver. (Teams of one can set `slack.allowSelfApproval: true` in warren's config.)",
      );
    case 'unknown':
      return notice(
        'This approval request is unknown to warren.',
        'Ask again with the `/rabbit` command if the operation is still needed.',
      );
    case 'decided':
      return notice(
        `This request was already ${refusal.state}` +
          `${refusal.by ? ` by ${mention(refusal.by)}` : ''}` +
          `${refusal.atMs === undefined ? '' : ` at ${slackTime(refusal.atMs)}`}.`,
        refusal.state === 'approved'
          ? "It runs once; follow it in the card's thread."
          : 'Ask again with the `/rabbit` command if it is still needed.',
      );
    case 'expired':
      return notice(
        `This request expired${refusal.atMs === undefined ? '' : ` at ${slackTime(refusal.atMs)}`}; nothing was run.`,
        'Ask again with the `/rabbit` command if it is still needed.',
      );
  }
}

function notice(headline: string, next: string): SlackMessage {
  return { text: plainFromMrkdwn(headline), blocks: [section(`:no_entry: ${headline}\n${next}`)] };
}

import { randomUUID } from 'node:crypto';
import type { DestructiveCommand } from '../../commands/schema.js';
import type { WarrenConfig } from '../../config/schema.js';
import type { GateReport } from '../../gates/schema.js';
import { stackOf } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { requestDestructive } from '../../requests/destructive.js';
import type { PlannedCommand } from '../../steps/step.js';
import type { BotDeps, SlackRequest } from '../deps.js';
import {
  buildApprovalCard,
  buildDestructiveDryRun,
  buildGateRefusal,
  requestLabel,
  withoutButtons,
} from '../messages/approval-card.js';
import type { DestructiveRequest } from '../messages/approval-card.js';
import { buildBusyNotice } from '../messages/plan.js';
import { buildProblem } from '../messages/refusal.js';
import { requestPortsOf } from '../request-ports.js';
import { initialJobView } from '../job-view.js';
import { buildJobCard } from '../messages/job-card.js';
import { permalinkFor } from '../messages/mrkdwn.js';
import { describeRunning } from './cluster-create.js';

/** The command as the gates and the card see it: which nodes it touches. */
export function destructiveRequestOf(
  config: Pick<WarrenConfig, 'clusters'>,
  command: DestructiveCommand,
): DestructiveRequest {
  if (
    command.name === 'cluster.teardown' ||
    command.name === 'feature-flags.enable' ||
    command.name === 'cluster.migrate-to-quorum' ||
    command.name === 'cluster.delete-classic-queues' ||
    command.name === 'cluster.restart'
  ) {
    const nodes = config.clusters.find((c) => c.name === command.cluster)?.nodes ?? [];
    return { operation: command.name, cluster: command.cluster, nodes };
  }
  return { operation: command.name, cluster: command.cluster, node: command.host, nodes: [command.host] };
}

/**
 * After the ack, a request for a destructive operation, decided by the request layer: refused if
 * the cluster is busy or a gate says no (privately, audited, no card); a dry run answers privately
 * with the commands and the gates; otherwise the approval card goes in the channel and the
 * approval is saved in Redis. This renders what it decided.
 */
export async function requestDestructiveOperation(
  deps: BotDeps,
  request: SlackRequest,
  command: DestructiveCommand,
  log: Logger,
): Promise<void> {
  const target = destructiveRequestOf(deps.config, command);
  const approval = deps.config.clusters.find((c) => c.name === target.cluster)?.approval;
  // Where the cluster lets an operator run it directly, the job card goes up instead of an approval card.
  let card: { ts: string; requestedAt: string } | undefined;
  const runDirect = async () => {
    const requestedAt = new Date(deps.now()).toISOString();
    const message = buildJobCard(initialJobView('', target.operation, target.cluster), {
      user: request.user,
      requestedAt,
    });
    const posted = await deps.client.chat.postMessage({
      channel: request.channel,
      text: message.text,
      blocks: message.blocks,
    });
    if (!posted.ts) throw new Error('chat.postMessage returned no ts for the job card');
    card = { ts: posted.ts, requestedAt };
    return { kind: 'slack' as const, user: request.user, channel: request.channel, cardTs: posted.ts };
  };
  const result = await requestDestructive(
    requestPortsOf(deps, log),
    {
      operation: target.operation,
      cluster: target.cluster,
      ...(target.node ? { node: target.node } : {}),
      requester: { via: 'slack', user: request.user },
      ...(approval ? { approval } : {}),
    },
    command.dryRun
      ? { kind: 'dry-run' }
      : {
          kind: 'ask-approval',
          ask: ({ plan, report }) => postApprovalCard(deps, request, target, plan, report, log),
          runDirect,
        },
  );
  switch (result.kind) {
    case 'busy':
      log.info({ runningJobId: result.jobId }, 'destructive request refused: cluster busy');
      return request.reply(
        buildBusyNotice(target.cluster, await describeRunning(deps, result.jobId, request.teamDomain)),
      );
    case 'unchecked': {
      // The gates or the dry run could not judge the request: nothing is asked; the requester hears why and what to do.
      log.info(
        { code: result.error.code, err: result.error.message, ...stackOf(result.error) },
        'destructive request could not be checked',
      );
      const next =
        result.error.hint ??
        'Nothing was asked or run. Check that warren reaches the nodes over ' +
          'SSH (`warren status` shows the same), then ask again.';
      return request.reply(buildProblem(`${requestLabel(target)}: ${result.error.message}`, next));
    }
    case 'refused':
      log.info(
        { gates: result.report.checks.filter((c) => !c.ok).map((c) => c.id) },
        'destructive request refused by the safety gates',
      );
      return request.reply(buildGateRefusal(target, result.report));
    case 'plan':
      return request.reply(buildDestructiveDryRun(target, result.plan, result.report));
    case 'queued':
      // An operator's own run (approval: operator): the job card is out; the reporter keeps it current.
      if (card) {
        await deps.store.saveCard(result.jobId, {
          channel: request.channel,
          ts: card.ts,
          user: request.user,
          operation: target.operation,
          cluster: target.cluster,
          permalink: permalinkFor(request.teamDomain, request.channel, card.ts),
          requestedAt: card.requestedAt,
        });
        deps.reporter.track(result.jobId);
        log.info({ jobId: result.jobId, cardTs: card.ts }, 'run by an operator (approval: operator)');
      }
      return;
    case 'needs-approval':
      // The card is out (postApprovalCard logged it).
      return;
  }
}

/** Posts the approval card and saves the approval; returns its id for the request's audit entry. */
async function postApprovalCard(
  deps: BotDeps,
  request: SlackRequest,
  target: DestructiveRequest,
  plan: PlannedCommand[],
  report: GateReport,
  log: Logger,
): Promise<string> {
  const approvalId = randomUUID();
  const timeoutMinutes = deps.config.slack.approvalTimeoutMinutes;
  const createdAt = deps.now();
  const expiresAt = createdAt + timeoutMinutes * 60_000;
  const card = buildApprovalCard({
    approvalId,
    request: target,
    requester: request.user,
    createdAt,
    expiresAt,
    timeoutMinutes,
    plan,
    report,
  });
  const posted = await deps.client.chat.postMessage({
    channel: request.channel,
    text: card.text,
    blocks: card.blocks,
    unfurl_links: false,
    unfurl_media: false,
  });
  if (!posted.ts) throw new Error('chat.postMessage returned no ts for the approval card');
  // Saved after posting, so the record always names its card. A click in between finds no record
  // and is told so; the approver clicks again a moment later.
  await deps.approvals.create({
    id: approvalId,
    operation: target.operation,
    cluster: target.cluster,
    ...(target.node ? { node: target.node } : {}),
    requester: request.user,
    channel: request.channel,
    cardTs: posted.ts,
    ...(request.teamDomain ? { teamDomain: request.teamDomain } : {}),
    createdAt,
    expiresAt,
    timeoutMinutes,
    card: withoutButtons(card),
    ...(report.classicQueues ? { classicQueues: report.classicQueues } : {}),
  });
  log.info({ approvalId, cardTs: posted.ts, expiresAt: new Date(expiresAt).toISOString() }, 'approval requested');
  return approvalId;
}

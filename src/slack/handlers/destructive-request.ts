import { randomUUID } from 'node:crypto';
import type { DestructiveCommand } from '../../commands/schema.js';
import type { WarrenConfig } from '../../config/schema.js';
import type { GateReport } from '../../gates/schema.js';
import { stackOf, toWarrenError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { runningOperationFor } from '../../queue/enqueue.js';
import { auditFromSlack } from '../audit.js';
import type { BotDeps, SlackRequest } from '../deps.js';
import { buildApprovalCard, buildDestructiveDryRun, buildGateRefusal, requestLabel, withoutButtons } from '../messages/approval-card.js';
import type { DestructiveRequest } from '../messages/approval-card.js';
import { buildBusyNotice } from '../messages/plan.js';
import { buildProblem } from '../messages/refusal.js';
import type { PlanEntry } from '../messages/plan.js';
import { describeRunning } from './cluster-create.js';

/** The command as the gates and the card see it: which nodes it touches. */
export function destructiveRequestOf(config: Pick<WarrenConfig, 'clusters'>, command: DestructiveCommand): DestructiveRequest {
  if (command.name === 'cluster.teardown') {
    const nodes = config.clusters.find((c) => c.name === command.cluster)?.nodes ?? [];
    return { operation: command.name, cluster: command.cluster, nodes };
  }
  return { operation: command.name, cluster: command.cluster, node: command.host, nodes: [command.host] };
}

/**
 * After the ack, a request for a destructive operation: refused if the cluster is busy or a gate
 * says no (privately, audited, no card); a dry run answers privately with the commands and the
 * gates; otherwise the approval card goes in the channel and the approval is saved in Redis.
 */
export async function requestDestructiveOperation(deps: BotDeps, request: SlackRequest, command: DestructiveCommand, log: Logger): Promise<void> {
  const target = destructiveRequestOf(deps.config, command);
  const audited = { operation: target.operation, cluster: target.cluster, ...(target.node ? { node: target.node } : {}), actor: request.user };
  const running = await runningOperationFor(deps.queue, target.cluster);
  if (running && !command.dryRun) {
    log.info({ runningJobId: running }, 'destructive request refused: cluster busy');
    await request.reply(buildBusyNotice(target.cluster, await describeRunning(deps, running, request.teamDomain)));
    await auditFromSlack(deps, { ...audited, event: 'refused', detail: `cluster busy: job ${running} holds ${target.cluster}` });
    return;
  }
  let report: GateReport;
  try {
    const gates = await deps.checkSafetyGates(deps.config, { operation: target.operation, cluster: target.cluster, ...(target.node ? { node: target.node } : {}) }, { logger: log });
    report = withBusyGate(gates, target.cluster, running);
  } catch (error) {
    // e.g. node.unknown: the host is not a member (reset, remove) or already is one (add).
    return refuseUnchecked(deps, request, target, command.dryRun, error, log);
  }
  if (!report.allowed && !command.dryRun) {
    const failed = report.checks.filter((c) => !c.ok);
    log.info({ gates: failed.map((c) => c.id) }, 'destructive request refused by the safety gates');
    await request.reply(buildGateRefusal(target, report));
    await auditFromSlack(deps, { ...audited, event: 'refused', detail: `gates: ${failed.map((c) => `${c.id}: ${c.detail}`).join('; ')}`.slice(0, 500) });
    return;
  }
  let plan: PlanEntry[];
  try {
    plan = await deps.planOperation(deps.config, target.operation, target.cluster, target.node);
  } catch (error) {
    return refuseUnchecked(deps, request, target, command.dryRun, error, log);
  }
  if (command.dryRun) {
    await request.reply(buildDestructiveDryRun(target, plan, report));
    return;
  }
  await postApprovalCard(deps, request, target, plan, report, log);
}

/**
 * The gates or the dry run could not judge the request (a host that is not a member, a node that
 * cannot be read): nothing is asked; the requester hears why and what to do, and it is audited.
 */
async function refuseUnchecked(deps: BotDeps, request: SlackRequest, target: DestructiveRequest, dryRun: boolean, thrown: unknown, log: Logger): Promise<void> {
  const error = toWarrenError(thrown);
  log.info({ code: error.code, err: error.message, ...stackOf(error) }, 'destructive request could not be checked');
  const next = error.hint ?? 'Nothing was asked or run. Check that warren reaches the nodes over SSH (`warren status` shows the same), then ask again.';
  await request.reply(buildProblem(`${requestLabel(target)}: ${error.message}`, next));
  if (dryRun) return;
  await auditFromSlack(deps, {
    event: 'refused',
    operation: target.operation,
    cluster: target.cluster,
    ...(target.node ? { node: target.node } : {}),
    actor: request.user,
    detail: `${error.code}: ${error.message}`.slice(0, 500),
  });
}

async function postApprovalCard(deps: BotDeps, request: SlackRequest, target: DestructiveRequest, plan: PlanEntry[], report: GateReport, log: Logger): Promise<void> {
  const approvalId = randomUUID();
  const timeoutMinutes = deps.config.slack.approvalTimeoutMinutes;
  const createdAt = deps.now();
  const expiresAt = createdAt + timeoutMinutes * 60_000;
  const card = buildApprovalCard({ approvalId, request: target, requester: request.user, createdAt, expiresAt, timeoutMinutes, plan, report });
  const posted = await deps.client.chat.postMessage({ channel: request.channel, text: card.text, blocks: card.blocks, unfurl_links: false, unfurl_media: false });
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
  });
  await auditFromSlack(deps, {
    event: 'requested',
    operation: target.operation,
    cluster: target.cluster,
    ...(target.node ? { node: target.node } : {}),
    actor: request.user,
    approvalId,
    detail: (report.wipes && report.wipes.length > 0 ? `gates passed; wipes: ${report.wipes.join('; ')}` : 'gates passed').slice(0, 500),
  });
  log.info({ approvalId, cardTs: posted.ts, expiresAt: new Date(expiresAt).toISOString() }, 'approval requested');
}

/** The gate checker leaves `cluster.busy` to its callers: the queue knows whether an operation runs. */
function withBusyGate(report: GateReport, cluster: string, running: string | undefined): GateReport {
  const busy = running
    ? { id: 'cluster.busy' as const, ok: false, detail: `job ${running} is running on ${cluster}`, remedy: 'wait for it to end (`/rabbit jobs`), then ask again' }
    : { id: 'cluster.busy' as const, ok: true, detail: `no other operation runs on ${cluster}` };
  const checks = [busy, ...report.checks.filter((c) => c.id !== 'cluster.busy')];
  return { ...report, checks, allowed: report.allowed && busy.ok };
}

import { toWarrenError } from '../errors.js';
import type { WarrenError } from '../errors.js';
import type { GateReport } from '../gates/schema.js';
import type { DestructiveOperation } from '../gates/schema.js';
import { isOperatorRunnable } from '../operations/schema.js';
import type { JobData, JobOrigin } from '../operations/schema.js';
import type { ApprovalSetting } from '../config/schema.js';
import type { PlannedCommand } from '../steps/step.js';
import type { ShownQueue } from '../rabbit/quorum-migration.js';
import { buildAuditEntry } from '../audit/build-entry.js';
import { actorOf } from './ports.js';
import type { RequestPorts, Requester } from './ports.js';

/** A destructive operation someone asks for: what, on which cluster (and node), and who asks. */
export interface DestructiveRequest {
  operation: DestructiveOperation;
  cluster: string;
  /** The inventory host of a node.* operation; absent for a teardown. */
  node?: string;
  requester: Requester;
  /** The cluster's `approval` setting from the config; absent means `required`. */
  approval?: ApprovalSetting;
}

/**
 * True when an operator may run the request without a second person: the cluster's config says
 * `approval: operator` and the operation destroys nothing (a rolling restart).
 */
export function runsWithoutApproval(request: Pick<DestructiveRequest, 'operation' | 'approval'>): boolean {
  return request.approval === 'operator' && isOperatorRunnable(request.operation);
}

/**
 * How the request is to be handled: a dry run shows the plan and the gates and changes nothing;
 * `ask-approval` (Slack) hands the judged request to `ask`, which posts the approval card and
 * returns the approval's id; `run-now` (the CLI's --yes) queues it with chat approval bypassed.
 */
export type DestructiveMode =
  | { kind: 'dry-run' }
  | { kind: 'run-now' }
  | {
      kind: 'ask-approval';
      ask: (judged: { plan: PlannedCommand[]; report: GateReport }) => Promise<string>;
      /**
       * Where the cluster lets an operator run it (runsWithoutApproval): posts the job's card and
       * returns the origin its progress goes to; the request is queued at once, with no approval.
       */
      runDirect?: () => Promise<Extract<JobOrigin, { kind: 'slack' }>>;
    };

/** What became of the request, for the front end to render. */
export type DestructiveResult =
  /** The dry run: the commands and the gates' verdict (with `cluster.busy`); nothing changed. */
  | { kind: 'plan'; plan: PlannedCommand[]; report: GateReport }
  /** Another operation holds the cluster: its job id. Decided by the enqueue for `run-now`. */
  | { kind: 'busy'; jobId: string }
  /** The gates said no: every reason is in the report. */
  | { kind: 'refused'; report: GateReport }
  /** The gates or the plan could not judge it (a host that is not a member, a node that cannot be read). */
  | { kind: 'unchecked'; error: WarrenError }
  /** The approval card is out: the request waits for an approver. */
  | { kind: 'needs-approval'; approvalId: string; plan: PlannedCommand[]; report: GateReport }
  /** Queued (`run-now`): the job to follow, and the gates' report it was queued on (what the terminal shows). */
  | { kind: 'queued'; jobId: string; data: JobData; report?: GateReport };

/**
 * Job options by operation: an approved or --yes node add allows the wipe the gates reported (the card or the terminal
 * showed it); a delete of classic queues names exactly the queues shown (none when it was shown none).
 */
export function jobOptionsFor(
  operation: DestructiveOperation,
  shown: { classicQueues?: ShownQueue[] | undefined } = {},
): { allowWipe: boolean; classicQueues?: ShownQueue[] } {
  return {
    allowWipe: operation === 'node.add',
    ...(operation === 'cluster.delete-classic-queues' ? { classicQueues: shown.classicQueues ?? [] } : {}),
  };
}

/**
 * The one way a destructive request is decided, from Slack or the terminal: the gates judge it
 * and the plan shows it; anything other than a dry run is audited however it ends (refused,
 * requested, or busy); `run-now` is queued and only the enqueue says whether the cluster is busy.
 * Before an approval is asked, a cluster already busy is refused at once (no SSH is read): the
 * approver would only be asked for something that cannot run now. Its release enqueues, and that
 * enqueue's answer is the verdict that counts.
 */
export async function requestDestructive(
  ports: RequestPorts,
  request: DestructiveRequest,
  mode: DestructiveMode,
): Promise<DestructiveResult> {
  const audit = async (
    event: 'refused' | 'requested',
    detail: string,
    extra: { jobId?: string; approvalId?: string } = {},
  ): Promise<void> => {
    await ports.appendAudit(
      buildAuditEntry({ ...request, ...extra }, event, actorOf(request.requester), { atMs: ports.now(), detail }),
    );
  };
  // The gates or the plan could not judge it: nothing is asked or run, and only a real request is audited.
  const unchecked = async (error: WarrenError): Promise<DestructiveResult> => {
    if (mode.kind !== 'dry-run') await audit('refused', `${error.code}: ${error.message}`);
    return { kind: 'unchecked', error };
  };
  const running = mode.kind === 'run-now' ? undefined : await ports.runningOperation(request.cluster);
  if (running !== undefined && mode.kind === 'ask-approval') {
    await audit('refused', `cluster busy: job ${running} holds ${request.cluster}`);
    return { kind: 'busy', jobId: running };
  }
  const gates = await attempt(() => judgeGates(ports, request, mode.kind === 'run-now' ? undefined : { running }));
  if ('error' in gates) return unchecked(gates.error);
  const report = gates.value;
  if (!report.allowed && mode.kind !== 'dry-run') {
    // Refused before the plan is drawn: nothing about the request is worth showing but why.
    const failed = report.checks.filter((c) => !c.ok);
    await audit('refused', `gates: ${failed.map((c) => `${c.id}: ${c.detail}`).join('; ')}`);
    return { kind: 'refused', report };
  }
  const plan = await attempt(() => ports.plan(request.operation, request.cluster, request.node));
  if ('error' in plan) return unchecked(plan.error);
  const judged = { plan: plan.value, report };
  if (mode.kind === 'dry-run') return { kind: 'plan', ...judged };
  if (mode.kind === 'ask-approval' && mode.runDirect && runsWithoutApproval(request)) {
    const user = request.requester.user;
    await audit(
      'requested',
      `gates passed; approval: operator (the cluster's config): run by ${user}, no second person`,
    );
    const queued = await ports.enqueue({
      operation: request.operation,
      cluster: request.cluster,
      options: jobOptionsFor(request.operation),
      origin: await mode.runDirect(),
      authorization: { kind: 'operator', user },
      requestedAt: new Date(ports.now()).toISOString(),
    });
    if (queued.status === 'busy') {
      await audit('refused', `cluster busy: job ${queued.jobId}`, { jobId: queued.jobId });
      return { kind: 'busy', jobId: queued.jobId };
    }
    return { kind: 'queued', jobId: queued.jobId, data: queued.data };
  }
  if (mode.kind === 'ask-approval') {
    const approvalId = await mode.ask(judged);
    const wipes = judged.report.wipes ?? [];
    await audit('requested', wipes.length > 0 ? `gates passed; wipes: ${wipes.join('; ')}` : 'gates passed', {
      approvalId,
    });
    return { kind: 'needs-approval', approvalId, ...judged };
  }
  // Audited before the add, so the trail reads requested → started even when a worker is quick.
  await audit('requested', '--yes: chat approval bypassed');
  const user = request.requester.user;
  const queued = await ports.enqueue({
    operation: request.operation,
    cluster: request.cluster,
    ...(request.node ? { node: request.node } : {}),
    options: jobOptionsFor(request.operation, report),
    origin: { kind: 'cli', user },
    authorization: { kind: 'cli-yes', user },
    requestedAt: new Date(ports.now()).toISOString(),
  });
  if (queued.status === 'busy') {
    await audit('refused', `cluster busy: job ${queued.jobId}`, { jobId: queued.jobId });
    return { kind: 'busy', jobId: queued.jobId };
  }
  return { kind: 'queued', jobId: queued.jobId, data: queued.data, report };
}

/**
 * The gates' verdict. With `busy` (every mode but run-now) the report carries the queue's
 * `cluster.busy` check, read a moment ago, for the card and the dry run to show.
 */
async function judgeGates(
  ports: RequestPorts,
  request: DestructiveRequest,
  busy: { running: string | undefined } | undefined,
): Promise<GateReport> {
  const gates = await ports.checkGates({
    operation: request.operation,
    cluster: request.cluster,
    ...(request.node ? { node: request.node } : {}),
  });
  return busy ? withBusyGate(gates, request.cluster, busy.running) : gates;
}

/**
 * The value, or the error it threw as a WarrenError (e.g. node.unknown: the host is not a member, or already is one).
 */
async function attempt<T>(work: () => Promise<T>): Promise<{ value: T } | { error: WarrenError }> {
  try {
    return { value: await work() };
  } catch (thrown) {
    return { error: toWarrenError(thrown) };
  }
}

/** The gate checker leaves `cluster.busy` to its callers: the queue knows whether an operation runs. */
function withBusyGate(report: GateReport, cluster: string, running: string | undefined): GateReport {
  const busy = running
    ? {
        id: 'cluster.busy' as const,
        ok: false,
        detail: `job ${running} is running on ${cluster}`,
        remedy: 'wait for it to end (`/rabbit jobs`), then ask again',
      }
    : { id: 'cluster.busy' as const, ok: true, detail: `no other operation runs on ${cluster}` };
  const checks = [busy, ...report.checks.filter((c) => c.id !== 'cluster.busy')];
  return { ...report, checks, allowed: report.allowed && busy.ok };
}

import type { ClusterHealth } from '../rabbit/cluster-status.js';
import type { UpgradeReport } from '../status/read-upgrade-readiness.js';
import type { ProgressEvent } from '../operations/progress.js';
import { ClusterCreateResult, MaintenanceResult } from '../operations/schema.js';
import type { StoredAuditEntry } from '../audit/schema.js';
import type { GateReport } from '../gates/schema.js';
import { describeError } from '../errors.js';
import type { PlannedCommand } from '../steps/step.js';
import { terminalText } from '../untrusted-text.js';

// Every export returns terminalText(…): host output (node names, stderr, details) reaches the
// terminal without control characters or escape sequences, whichever field it came in.

const MARK: Record<string, string> = { running: '…', done: '✓', skipped: '–', failed: '✗', pending: ' ' };

function seconds(ms: number | undefined): string {
  return ms === undefined ? '' : `${(ms / 1000).toFixed(1)}s`;
}

/** One terminal line per progress event worth showing; undefined for the ones that are not. */
export function renderEvent(event: ProgressEvent): string | undefined {
  const line = eventLine(event);
  return line === undefined ? undefined : terminalText(line);
}

function eventLine(event: ProgressEvent): string | undefined {
  if (event.type === 'step') {
    if (event.state === 'running' && !event.host) return `${MARK.running} ${event.step}`;
    if (event.state === 'running') return undefined;
    const where = event.host ? `    ${event.host.padEnd(12)}` : `${event.step.padEnd(20)}`;
    return (
      `${MARK[event.state] ?? '?'} ${where} ` + `${seconds(event.durationMs).padStart(6)}  ${event.detail ?? ''}`
    ).trimEnd();
  }
  switch (event.state) {
    case 'queued':
      return `job ${event.jobId} queued: ${event.operation} ${event.cluster}`;
    case 'started':
      return `attempt ${event.attempt} started`;
    case 'retrying':
      return `attempt ${event.attempt} failed, will retry:\n${event.error ? describeError(event.error) : ''}`;
    case 'failed':
      return `✗ ${event.operation} ${event.cluster} failed:\n${event.error ? describeError(event.error) : ''}`;
    case 'completed':
      return renderCompletion(event.result);
  }
}

function renderCompletion(result: unknown): string {
  const parsed = ClusterCreateResult.safeParse(result);
  if (!parsed.success) {
    const maintenance = MaintenanceResult.safeParse(result);
    if (!maintenance.success) return '✓ completed';
    const m = maintenance.data;
    return [
      `✓ ${m.summary}`,
      ...m.nodes.map((n) => `  ${n.host}: ${n.outcome}`),
      ...(m.health ? ['', healthTable(m.health)] : []),
      ...m.warnings.map((w) => `warning: ${w}`),
    ].join('\n');
  }
  const r = parsed.data;
  const lines = [
    `✓ cluster ${r.cluster} is ${r.health.headline}`,
    '',
    healthTable(r.health),
    '',
    `replication: ${r.replication.mode} (${r.replication.detail})`,
  ];
  if (r.metadataStore) lines.push(`metadata store: ${r.metadataStore === 'khepri' ? 'Khepri' : 'Mnesia'}`);
  for (const warning of r.warnings) lines.push(`warning: ${warning}`);
  lines.push(`oslo.messaging transport_url: ${r.transportUrl}`);
  return lines.join('\n');
}

/** A status table a person reads at a glance: headline, then one row per node. */
export function renderHealth(health: ClusterHealth): string {
  return terminalText(healthTable(health));
}

function healthTable(health: ClusterHealth): string {
  const rows = health.nodes.map((n) => (n.answering === undefined ? nodeLine(n) : partialNodeLine(n)));
  const head =
    `cluster ${health.cluster}: ${health.headline.toUpperCase()}` +
    `${health.partial ? ' (partial reading)' : health.readFrom ? ` (read from ${health.readFrom})` : ''}`;
  const problems = health.problems.map((p) => `  ! ${p}`);
  const store = health.metadataStore ? [`  metadata store: ${health.metadataStore}`] : [];
  const flags = health.featureFlagsNotEnabled?.length
    ? [`  feature flags not enabled: ${health.featureFlagsNotEnabled.join(', ')}`]
    : [];
  return [head, ...rows.map((r) => `  ${r}`), ...store, ...flags, ...problems].join('\n');
}

function nodeLine(n: ClusterHealth['nodes'][number]): string {
  return [
    n.running ? '●' : '○',
    n.node.padEnd(22),
    (n.running ? 'running' : 'stopped').padEnd(8),
    `RabbitMQ ${n.rabbitmqVersion ?? '?'}`.padEnd(16),
    `Erlang ${n.erlangVersion ?? '?'}`.padEnd(14),
    n.alarms.length ? `alarms: ${n.alarms.join(', ')}` : 'no alarms',
    n.partitionedFrom.length ? `partitioned from ${n.partitionedFrom.join(', ')}` : '',
    n.maintenance && !/not under/.test(n.maintenance) ? n.maintenance : '',
  ]
    .filter(Boolean)
    .join('  ');
}

/** A node in a partial reading: only whether its host answers SSH is known. */
function partialNodeLine(n: ClusterHealth['nodes'][number]): string {
  return [
    n.answering ? '?' : '×',
    n.node.padEnd(22),
    n.answering ? 'answers SSH, RabbitMQ not read yet' : 'NOT ANSWERING',
  ].join('  ');
}

/** The dry run, grouped by step. */
export function renderPlan(
  cluster: string,
  plan: readonly PlannedCommand[],
  what = `cluster create ${cluster}`,
): string {
  const lines = [`plan: ${what} (dry run: nothing is run; each command runs only when its condition holds)`];
  let step = '';
  for (const p of plan) {
    if (p.step !== step) {
      step = p.step;
      lines.push('', `${step}`);
    }
    lines.push(`  ${p.host.padEnd(12)} ${p.command}${p.when ? `\n  ${''.padEnd(12)}   # when ${p.when}` : ''}`);
  }
  return terminalText(lines.join('\n'));
}

/** The gates' verdict: one line per check, the remedy under each refusal, then what is wiped. */
export function renderGates(report: GateReport): string {
  const lines = [
    `gates: ${report.allowed ? 'ALLOWED' : 'REFUSED'}` +
      `${report.readFrom ? ` (cluster read from ${report.readFrom})` : ''}`,
  ];
  for (const check of report.checks) {
    lines.push(`  ${check.ok ? '✓' : '✗'} ${check.id.padEnd(24)} ${check.detail}`);
    if (!check.ok && check.remedy) lines.push(`    to make it possible: ${check.remedy}`);
  }
  if (report.wipes?.length) lines.push('wipes:', ...report.wipes.map((w) => `  - ${w}`));
  return terminalText(lines.join('\n'));
}

/** Audit entries oldest first, one line each. */
export function renderAudit(entries: readonly StoredAuditEntry[]): string {
  if (entries.length === 0) return 'no audit entries';
  const text = entries
    .map(({ entry: e }) =>
      [
        e.at,
        e.event.padEnd(9),
        `${e.operation} ${e.cluster}${e.node ? ` ${e.node}` : ''}`,
        `by ${e.actor} via ${e.via}`,
        e.jobId ? `job ${e.jobId}` : '',
        e.approvalId ? `approval ${e.approvalId}` : '',
        e.detail ? `— ${e.detail}` : '',
      ]
        .filter(Boolean)
        .join('  '),
    )
    .join('\n');
  return terminalText(text);
}

/** The upgrade-readiness report for a terminal: verdict and path, a line per node, each blocker with what to do. */
export function renderUpgradeReport(report: UpgradeReport): string {
  const { verdict } = report;
  const toward = verdict.to ? ` for ${verdict.to}` : '';
  const head =
    `cluster ${report.cluster}: ${verdict.ready ? 'READY' : 'NOT READY'}` +
    `${toward} (` +
    `${verdict.path === 'blue-green' ? 'blue/green' : verdict.path})`;
  const nodes = report.nodes.map((n) => {
    if (n.unreadable !== undefined) return `  ○ ${n.node.padEnd(22)} not read: ${n.unreadable}`;
    const deprecated =
      n.deprecatedInUse === 'unsupported'
        ? 'deprecated features: n/a before 3.13'
        : n.deprecatedInUse.length > 0
          ? `deprecated in use: ${n.deprecatedInUse.join(', ')}`
          : 'no deprecated features in use';
    return [
      '  ●',
      n.node.padEnd(22),
      `RabbitMQ ${n.rabbitmqVersion ?? '?'}`.padEnd(16),
      `Erlang ${n.erlangVersion ?? '?'}`.padEnd(14),
      n.flagsNotEnabled.length > 0 ? `flags not enabled: ${n.flagsNotEnabled.join(', ')}` : 'all stable flags enabled',
      deprecated,
      n.alarms.length > 0 ? `alarms: ${n.alarms.join(', ')}` : 'no alarms',
    ].join('  ');
  });
  const policies =
    report.mirroringPolicies.length > 0
      ? report.mirroringPolicies.map((p) => `${p.name} (vhost ${p.vhost})`).join(', ')
      : 'none';
  const lines = [
    head,
    `  path: ${verdict.summary}`,
    ...nodes,
    `  mirroring policies: ${policies}; under-replicated quorum queues: ${report.underReplicated.length}`,
    ...verdict.blockers.flatMap((b) => [`  ✗ ${b.what}`, `      what to do: ${b.fix}`]),
    ...verdict.warnings.map((w) => `  ! ${w}`),
  ];
  return terminalText(lines.join('\n'));
}

/**
 * The quorum migration as read: per vhost its default queue type, the mirroring policies and what becomes of them,
 * its classic queues; then the oslo.messaging settings the services need, with the versions each needs.
 */
export function renderMigration(report: GateReport): string {
  const plan = report.migration;
  if (!plan) return '';
  const lines = [`migration plan of ${plan.cluster} (RabbitMQ ${plan.rabbitmqVersion}, read from ${plan.readFrom}):`];
  for (const v of plan.vhosts) {
    lines.push(
      `  vhost ${JSON.stringify(v.vhost)}: default queue type ${v.defaultQueueType}` +
        (v.setDefault ? ' -> quorum' : ' (already quorum)'),
    );
    for (const p of v.policies)
      lines.push(
        `    policy ${JSON.stringify(p.name)} (pattern ${JSON.stringify(p.pattern)}): ` +
          (p.kind === 'clear' ? 'cleared' : `set again without ${p.removed.join(', ')}`),
      );
    const shown = v.classicQueues.slice(0, 50);
    if (v.classicQueues.length > 0) lines.push(`    ${v.classicQueues.length} classic queue(s):`);
    for (const q of shown)
      lines.push(
        `      ${JSON.stringify(q.name)}  ${q.messages} message(s)` +
          (q.consumers > 0 ? `, ${q.consumers} consumer(s)` : ''),
      );
    if (v.classicQueues.length > shown.length) lines.push(`      … and ${v.classicQueues.length - shown.length} more`);
  }
  if (report.operation === 'cluster.migrate-to-quorum') {
    lines.push('', 'oslo.messaging, [oslo_messaging_rabbit] of every OpenStack service (then restart the services):');
    for (const s of plan.oslo)
      lines.push(
        `  ${s.supported ? '✓' : '✗'} ${`${s.option} = ${s.value}`.padEnd(36)} oslo.messaging ${s.osloMessaging}, ` +
          `RabbitMQ ${s.rabbitmq}+: ${s.why}`,
      );
  }
  if (report.operation === 'cluster.delete-classic-queues') {
    const queues = report.classicQueues ?? [];
    lines.push(
      '',
      `deletes exactly these ${queues.length} queue(s) (a queue that changes before the job reaches it is kept):`,
    );
    for (const q of queues)
      lines.push(`  ${JSON.stringify(q.vhost)} ${JSON.stringify(q.name)}  ${q.messages} message(s)`);
  }
  return terminalText(lines.join('\n'));
}

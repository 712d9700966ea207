import { z } from 'zod';
import type { ClusterHealth } from '../rabbit/cluster-status.js';

/** What a watch alerts on: a whole cluster dark, one node, a partition, an alarm, quorum replicas, maintenance. */
export const FaultKind = z.enum(['dark', 'node', 'partition', 'alarm', 'quorum', 'maintenance']);
export type FaultKind = z.infer<typeof FaultKind>;

/** One open fault: opened once, held while it lasts, closed by a recovery. */
export const WatchFault = z
  .object({
    /** Stable while the fault holds: `node:rabbit@lab3`, `alarm:rabbit@lab1:memory on rabbit@lab1`, `partition`. */
    key: z.string().min(1).max(600),
    kind: FaultKind,
    node: z.string().max(300).optional(),
    /** One line for people, e.g. "rabbit@lab3 is down". Host text inside: escape before showing. */
    summary: z.string().max(1000),
    /** What the reading showed (host output: untrusted). */
    evidence: z.array(z.string().max(500)).max(20),
    /** What to run next. */
    suggestion: z.string().max(300),
    /** When the fault was first seen (ISO). */
    since: z.string(),
  })
  .strict();
export type WatchFault = z.infer<typeof WatchFault>;

/** The numbers `/metrics` exports per watched cluster. */
export const WatchGauges = z
  .object({
    nodesRunning: z.number().int().nonnegative(),
    nodesExpected: z.number().int().nonnegative(),
    partitions: z.number().int().nonnegative(),
    alarms: z.number().int().nonnegative(),
    underReplicatedQueues: z.number().int().nonnegative(),
  })
  .strict();
export type WatchGauges = z.infer<typeof WatchGauges>;

/** The last judged state of one watched cluster, as kept in Redis between readings. */
export const WatchState = z
  .object({
    cluster: z.string(),
    judgedAt: z.string(),
    /** full: cluster_status answered; partial: only SSH reachability is known; dark: nothing answered. */
    reading: z.enum(['full', 'partial', 'dark']),
    faults: z.record(z.string(), WatchFault),
    /** Node -> when it was first seen under maintenance (the alert waits for maintenanceMaxSeconds). */
    maintenanceSince: z.record(z.string(), z.string()),
    gauges: WatchGauges,
  })
  .strict();
export type WatchState = z.infer<typeof WatchState>;

/** What a judgement asks to post: a new fault, or the end of one. */
export type WatchAlert = { type: 'fault'; fault: WatchFault } | { type: 'recovery'; fault: WatchFault; at: string };

export interface JudgeSettings {
  maintenanceMaxSeconds: number;
}

/** At most this many items (queues, peers) are named in one alert's evidence. */
const EVIDENCE_ITEMS = 10;

/**
 * The change detector: the previous state and a new reading in, the new state and the alerts to
 * post out. Pure. It judges by membership and reachability, not by one field: a node is down when
 * the reading node does not count it running (or its host does not answer); a partition when a
 * node reports one (3.x and 4.0 keep reporting it after the link heals, until a restart: it is
 * still a split cluster); a node forgotten while down (4.3 brings it back standalone) is "not a
 * member". A cluster none of whose nodes answer is one fault (`dark`) that holds every other one
 * as it was: no alert per node per period, and nothing recovered that nobody could see. A partial
 * reading (cluster_status held up) may open faults for silent hosts but closes none.
 */
export function judgeHealth(
  previous: WatchState | undefined,
  health: ClusterHealth,
  nowMs: number,
  settings: JudgeSettings,
): { state: WatchState; alerts: WatchAlert[] } {
  const now = new Date(nowMs).toISOString();
  const before = previous?.faults ?? {};
  const open = (fault: Omit<WatchFault, 'since'>): WatchFault => ({
    ...fault,
    since: Object.hasOwn(before, fault.key) ? before[fault.key].since : now,
  });
  const reading: WatchState['reading'] =
    health.headline === 'unreachable' ? 'dark' : health.partial ? 'partial' : 'full';
  let faults: Record<string, WatchFault>;
  let maintenanceSince = previous?.maintenanceSince ?? {};
  if (reading === 'dark') {
    // Everything else holds: what cannot be seen has neither failed again nor recovered.
    const dark = open({
      key: 'dark',
      kind: 'dark',
      summary: `no node of ${health.cluster} answers`,
      evidence: health.problems.slice(0, EVIDENCE_ITEMS),
      suggestion: `/rabbit status ${health.cluster}`,
    });
    faults = { ...withoutKey(before, 'dark'), dark };
  } else if (reading === 'partial') {
    faults = withoutKey(before, 'dark');
    for (const node of health.nodes) {
      if (node.answering !== false) continue;
      const fault = open(nodeFault(health, node.node, `${node.host ?? node.node} does not answer SSH`));
      faults[fault.key] ??= fault;
    }
  } else {
    faults = {};
    const found = judgeFull(health, nowMs, settings, maintenanceSince);
    maintenanceSince = found.maintenanceSince;
    for (const fault of found.faults.map(open)) faults[fault.key] = fault;
  }
  const alerts: WatchAlert[] = [];
  for (const [key, fault] of Object.entries(faults))
    if (!Object.hasOwn(before, key)) alerts.push({ type: 'fault', fault });
  for (const [key, fault] of Object.entries(before))
    if (!Object.hasOwn(faults, key)) alerts.push({ type: 'recovery', fault, at: now });
  const state: WatchState = {
    cluster: health.cluster,
    judgedAt: now,
    reading,
    faults,
    maintenanceSince,
    gauges: reading === 'full' ? gaugesOf(health) : (previous?.gauges ?? gaugesOf(health)),
  };
  if (reading === 'dark') state.gauges = { ...gaugesOf(health), nodesRunning: 0 };
  return { state, alerts };
}

function withoutKey(faults: Record<string, WatchFault>, key: string): Record<string, WatchFault> {
  return Object.fromEntries(Object.entries(faults).filter(([k]) => k !== key));
}

function nodeFault(health: ClusterHealth, node: string, why: string): Omit<WatchFault, 'since'> {
  const host = health.nodes.find((n) => n.node === node)?.host;
  return {
    key: `node:${node}`,
    kind: 'node',
    node,
    summary: `${node} is down: ${why}`,
    evidence: [why, ...(health.readFrom ? [`read from ${health.readFrom}`] : [])],
    suggestion: host
      ? `/rabbit status ${health.cluster} (then check ${host}'s RabbitMQ log)`
      : `/rabbit status ${health.cluster}`,
  };
}

/** The faults a full reading shows. */
function judgeFull(
  health: ClusterHealth,
  nowMs: number,
  settings: JudgeSettings,
  since: Record<string, string>,
): { faults: Omit<WatchFault, 'since'>[]; maintenanceSince: Record<string, string> } {
  const faults: Omit<WatchFault, 'since'>[] = [];
  const expected = new Set(health.expected);
  const running = new Set(health.nodes.filter((n) => n.running).map((n) => n.node));
  const notMember = new Set(
    health.expected.filter((node) => health.problems.includes(`${node} is not a member of the cluster`)),
  );
  for (const node of health.expected) {
    if (notMember.has(node))
      faults.push({
        ...nodeFault(health, node, `not a member of the cluster seen from ${health.readFrom ?? 'the reading node'}`),
        summary: `${node} is not a member of the cluster (forgotten, or back as a cluster of its own)`,
        suggestion: `/rabbit status ${health.cluster}, then /rabbit node add ${health.cluster} <host>`,
      });
    else if (!running.has(node))
      faults.push(
        nodeFault(health, node, `not running in the cluster seen from ${health.readFrom ?? 'the reading node'}`),
      );
  }
  const partitioned = health.nodes.filter((n) => n.partitionedFrom.length > 0);
  if (partitioned.length > 0)
    faults.push({
      key: 'partition',
      kind: 'partition',
      summary: `${health.cluster} is partitioned`,
      evidence: partitioned
        .slice(0, EVIDENCE_ITEMS)
        .map((n) => `${n.node} is partitioned from ${n.partitionedFrom.slice(0, EVIDENCE_ITEMS).join(', ')}`),
      suggestion: `/rabbit status ${health.cluster}, then restart the nodes of the minority side`,
    });
  for (const node of health.nodes) {
    for (const alarm of node.alarms)
      faults.push({
        key: `alarm:${node.node}:${alarm}`,
        kind: 'alarm',
        node: node.node,
        summary: `${alarm.split(' ')[0]} alarm on ${node.node}: publishers are blocked`,
        evidence: [`alarm: ${alarm}`],
        suggestion: `/rabbit status ${health.cluster} (then free ${/disk/.test(alarm) ? 'disk' : 'memory'} on the node)`,
      });
  }
  // Replicas missing on a node that runs: the node-down alert already covers queues missing a down node.
  const lost = (health.underReplicatedQueues ?? []).filter((q) => q.missing.every((m) => running.has(m)));
  if (lost.length > 0)
    faults.push({
      key: 'quorum',
      kind: 'quorum',
      summary: `${lost.length} quorum queue${lost.length === 1 ? '' : 's'} of ${health.cluster} lost members`,
      evidence: lost.slice(0, EVIDENCE_ITEMS).map((q) => `${q.vhost} ${q.name}: no replica on ${q.missing.join(', ')}`),
      suggestion: `/rabbit upgrade-check ${health.cluster} (then rabbitmq-queues grow <node> all)`,
    });
  const maintenanceSince: Record<string, string> = {};
  for (const node of health.nodes) {
    if (node.maintenance === undefined || /not under maintenance/.test(node.maintenance)) continue;
    const from = Object.hasOwn(since, node.node) ? since[node.node] : new Date(nowMs).toISOString();
    maintenanceSince[node.node] = from;
    const seconds = Math.floor((nowMs - Date.parse(from)) / 1000);
    if (seconds >= settings.maintenanceMaxSeconds)
      faults.push({
        key: `maintenance:${node.node}`,
        kind: 'maintenance',
        node: node.node,
        summary: `${node.node} has been ${node.maintenance} for ${seconds} s`,
        evidence: [`maintenance status: ${node.maintenance}`, `first seen ${from}`],
        suggestion: `rabbitmq-upgrade revive on ${node.host ?? node.node}, then /rabbit status ${health.cluster}`,
      });
  }
  for (const node of health.nodes)
    if (!expected.has(node.node) && node.running)
      faults.push({
        key: `node:${node.node}`,
        kind: 'node',
        node: node.node,
        summary: `${node.node} is a member of ${health.cluster} but not in the config`,
        evidence: [`running in the cluster seen from ${health.readFrom ?? 'the reading node'}`],
        suggestion: `/rabbit status ${health.cluster}`,
      });
  return { faults, maintenanceSince };
}

/** The gauges of one reading. */
export function gaugesOf(health: ClusterHealth): WatchGauges {
  return {
    nodesRunning: health.nodes.filter((n) => n.running && health.expected.includes(n.node)).length,
    nodesExpected: health.expected.length,
    partitions: health.nodes.filter((n) => n.partitionedFrom.length > 0).length,
    alarms: health.nodes.reduce((sum, n) => sum + n.alarms.length, 0),
    underReplicatedQueues: health.underReplicatedQueues?.length ?? 0,
  };
}

import { WarrenError } from '../errors.js';
import type { DestructiveOperation } from './schema.js';
import type { MetadataStore } from '../rabbit/metadata-store.js';
import type { QuorumVerdict } from '../rabbit/queries.js';
import type { ClusterHealth } from '../rabbit/cluster-status.js';
import type { GateCheck, GateReport } from './schema.js';
import { isMigrationOperation, judgeMigration } from './migration.js';
import type { MigrationPlan, ShownQueue } from '../rabbit/quorum-migration.js';

/**
 * How one node answered, as the gates read it: its RabbitMQ app runs; its Erlang VM runs with the
 * app stopped (exit 64 from cluster_status); no VM (exit 69); or SSH itself failed.
 */
export type NodeReach = 'running' | 'app-stopped' | 'vm-down' | 'unreachable';

/** The quorum verdict the gates judge (src/rabbit/queries.ts asks it). */
export type { QuorumVerdict };

/** One node of the cluster as the gates found it. */
export interface GateNode {
  host: string;
  nodeName: string;
  reach: NodeReach;
  /** Members of the node's own cluster_status (disk + RAM), when its app runs. */
  ownMembers?: string[];
  /** Queues it holds (across vhosts), when they were counted. */
  queues?: number;
}

/** Everything the rules judge; gathered over SSH by check.ts, judged here without I/O. */
export interface GateFacts {
  operation: DestructiveOperation;
  cluster: string;
  /** The cluster's members as warren counts them (config ± node.add/node.remove), the target of an add excluded. */
  members: GateNode[];
  /** The cluster as one running member sees it; undefined when no member's app answered. */
  view?: { readFrom: string; disk: string[]; running: string[] };
  /** The view's metadata store; Khepri (Raft) commits a membership change only with a majority. */
  store?: MetadataStore;
  /** Queues of the whole cluster (list_queues on a running member lists every node's), when counted. */
  clusterQueues?: number;
  /** feature-flags.enable: the stable flags disabled, as the view's node lists them (undefined: not read). */
  flagsToEnable?: string[];
  /** cluster.restart: the cluster's health as the view's node reads it (the status card's judgement). */
  health?: ClusterHealth;
  /** The node acted on (reset/remove: a member; add: the joining host). */
  target?: GateNode & { quorum?: QuorumVerdict };
  /** migrate-to-quorum, delete-classic-queues: the plan read from the view's node. */
  migration?: MigrationPlan;
}

/**
 * Checks that a node operation names a node it can act on: a member for reset/remove, an inventory
 * host not yet a member for add. Throws node.unknown naming the valid hosts.
 */
export function assertTarget(
  operation: DestructiveOperation,
  cluster: string,
  node: string | undefined,
  members: readonly string[],
  inventory: readonly string[],
): void {
  if (
    operation === 'cluster.teardown' ||
    operation === 'feature-flags.enable' ||
    operation === 'cluster.restart' ||
    isMigrationOperation(operation)
  )
    return;
  if (node === undefined)
    throw new WarrenError('node.unknown', `${operation} needs the node it acts on`, {
      hint: `Name one of: ${members.join(', ')}.`,
    });
  if (operation === 'node.add') {
    const candidates = inventory.filter((h) => !members.includes(h));
    if (members.includes(node)) {
      throw new WarrenError('node.unknown', `${node} is already a member of ${cluster}`, {
        host: node,
        hint: candidates.length
          ? `Hosts that could be added: ${candidates.join(', ')}.`
          : 'Every inventory host is already a member.',
      });
    }
    if (!inventory.includes(node)) {
      throw new WarrenError('node.unknown', `${node} is not an inventory host`, {
        host: node,
        hint: candidates.length
          ? `Hosts that could be added: ${candidates.join(', ')}; add a new host to hosts[] first.`
          : 'Add the host to hosts[] in the config first.',
      });
    }
    return;
  }
  if (!members.includes(node)) {
    throw new WarrenError('node.unknown', `${node} is not a member of ${cluster}`, {
      host: node,
      hint: `Members of ${cluster}: ${members.join(', ')}.`,
    });
  }
}

function pass(id: GateCheck['id'], detail: string): GateCheck {
  return { id, ok: true, detail };
}

function refuse(id: GateCheck['id'], detail: string, remedy: string): GateCheck {
  return { id, ok: false, detail, remedy };
}

/**
 * Member nodes that run, as the view says (a node missing from the view's running list does not
 * count). Under Khepri a node counts only when it also answered itself: the view's running list
 * comes from one node, and a Raft majority must be reachable, not just listed.
 */
function runningMembers(facts: GateFacts): string[] {
  const khepri = facts.store === 'khepri';
  const members = new Set(facts.members.filter((m) => !khepri || m.reach === 'running').map((m) => m.nodeName));
  return (facts.view?.running ?? []).filter((n) => members.has(n));
}

/**
 * Khepri only: a membership change (add, teardown) needs a majority of the members running and
 * reachable now, or it is never committed while every command exits 0 (measured on 4.3.6 with 2
 * of 3 VMs down: forget_cluster_node exits 0 uncommitted, a join exits 0 and commits later).
 */
function majorityNow(facts: GateFacts): GateCheck[] {
  if (facts.store !== 'khepri') return [];
  const running = runningMembers(facts);
  const total = facts.members.length;
  return [
    running.length * 2 > total
      ? pass(
          'cluster.minority',
          `${running.length} of ${total} node(s) run and answer: a majority of the metadata store (Khepri)`,
        )
      : refuse(
          'cluster.minority',
          `only ${running.length} of ${total} node(s) run and answer: the ` +
            `metadata store (Khepri) has no majority to commit a membership change`,
          `Start the stopped nodes of ${facts.cluster} (warren status ` +
            `${facts.cluster}) until more than half of them run` +
            `${facts.view ? '' : ' (no member answered at all)'}.`,
        ),
  ];
}

/** reset/remove: the last running disk node, the majority left running, quorum, reachability. */
function judgeNodeLeaving(
  facts: GateFacts,
  target: NonNullable<GateFacts['target']>,
): { checks: GateCheck[]; wipes: string[] } {
  const removing = facts.operation === 'node.remove';
  const running = runningMembers(facts);
  const disk = new Set(facts.view?.disk ?? []);
  const othersRunningDisk = running.filter((n) => n !== target.nodeName && disk.has(n));
  const targetRuns = running.includes(target.nodeName);
  const checks: GateCheck[] = [];

  checks.push(
    targetRuns && othersRunningDisk.length === 0
      ? refuse(
          'node.last_running_disk',
          `${target.nodeName} is the last running disk node of ${facts.cluster}`,
          `Start another node of ${facts.cluster} first (warren status ` +
            `${facts.cluster} shows which are stopped); to destroy the whole ` +
            `cluster, use cluster teardown.`,
        )
      : pass(
          'node.last_running_disk',
          `${othersRunningDisk.length} other running disk node(s): ${othersRunningDisk.join(', ') || 'none'}`,
        ),
  );

  // Strict majority of the members after the operation: a reset node still counts (the config keeps
  // it); a removed node no longer does.
  const membersAfter = facts.members.length - (removing ? 1 : 0);
  const runningAfter = running.filter((n) => n !== target.nodeName).length;
  checks.push(
    runningAfter * 2 > membersAfter
      ? pass('cluster.minority', `${runningAfter} of ${membersAfter} node(s) stay running`)
      : refuse(
          'cluster.minority',
          `only ${runningAfter} of ${membersAfter} node(s) would stay running: not a majority`,
          `Start the stopped nodes of ${facts.cluster} until more than half of ` +
            `them run without ${target.host}` +
            `${facts.view ? '' : ' (no member answered at all)'}.`,
        ),
  );

  const quorum = target.quorum ?? 'not-asked';
  if (quorum === 'unsupported')
    checks.push(
      pass(
        'node.quorum_critical',
        'this RabbitMQ version has no check_if_node_is_quorum_critical (before 3.8: no quorum queues)',
      ),
    );
  else if (quorum === 'not-asked')
    checks.push(pass('node.quorum_critical', `${target.nodeName} is not running: it holds no quorum votes now`));
  else if (quorum.critical) {
    checks.push(
      refuse(
        'node.quorum_critical',
        `${target.nodeName} is quorum-critical: ${quorum.queues.join(', ')} would lose quorum`,
        `Bring the queues' other replicas back online (start their nodes) or ` +
          `grow them onto more nodes (rabbitmq-queues grow) until ${target.host} ` +
          `is not critical.`,
      ),
    );
  } else checks.push(pass('node.quorum_critical', `no quorum queue depends on ${target.nodeName}`));

  if (removing) {
    // An operator removing a dead node is the common case: forget it on the survivors and warn.
    const detail =
      target.reach === 'running' || target.reach === 'app-stopped'
        ? `${target.host} answers: it will be stopped, forgotten, reset and left stopped`
        : target.reach === 'vm-down'
          ? `${target.host} is reachable but RabbitMQ is down: it will be forgotten and its data wiped offline`
          : `${target.host} is unreachable: it will be forgotten on the survivors only; wipe it ` +
            '(warren node reset is not possible then; delete /var/lib/rabbitmq/mnesia) before it is started again, ' +
            'or it fails to start with inconsistent_cluster';
    checks.push(pass('node.reachable', detail));
  } else {
    checks.push(
      target.reach === 'running' || target.reach === 'app-stopped'
        ? pass(
            'node.reachable',
            `${target.host} answers` +
              `${target.reach === 'app-stopped' ? ' (its app is stopped: the reset continues from there)' : ''}`,
          )
        : refuse(
            'node.reachable',
            `${target.host} is ` +
              `${target.reach === 'vm-down' ? 'reachable but RabbitMQ is not running' : 'unreachable over SSH'}: ` +
              `a reset needs the node running`,
            target.reach === 'vm-down'
              ? `Start RabbitMQ on ${target.host} (service rabbitmq-server start), or ` +
                  `use node remove to take it out of ${facts.cluster}.`
              : `Fix SSH to ${target.host}, or use node remove: it forgets an unreachable node on the survivors.`,
          ),
    );
  }
  const wipes = [
    `${target.host}: its membership of ${facts.cluster}, and every queue, message, user and vhost it holds`,
  ];
  return { checks, wipes };
}

/**
 * add: the seed must run to take the join; what the join destroys on the host is reported, not refused (the approval
 * covers it).
 */
function judgeAdd(
  facts: GateFacts,
  target: NonNullable<GateFacts['target']>,
): { checks: GateCheck[]; wipes: string[] } {
  const seed = facts.members[0];
  const seedRuns = seed !== undefined && runningMembers(facts).includes(seed.nodeName);
  const checks: GateCheck[] = [
    seedRuns
      ? pass('node.reachable', `the seed ${seed.nodeName} runs and can take the join`)
      : refuse(
          'node.reachable',
          `the seed ${seed?.nodeName ?? '(none)'} of ${facts.cluster} is not running`,
          `Start RabbitMQ on ${seed?.host ?? 'the seed'} first (warren status ${facts.cluster}).`,
        ),
    target.reach === 'unreachable'
      ? refuse(
          'node.reachable',
          `${target.host} is unreachable over SSH`,
          `Check that sshd runs on ${target.host} and its host key is the one pinned in the config.`,
        )
      : pass(
          'node.reachable',
          `${target.host} answers over SSH` +
            `${target.reach === 'running' ? '' : ' (RabbitMQ not running: it will be installed or started)'}`,
        ),
    ...majorityNow(facts),
  ];
  const wipes: string[] = [];
  const foreign = (target.ownMembers ?? []).filter((n) => n !== target.nodeName);
  if (foreign.length > 0)
    wipes.push(`${target.host} belongs to another cluster (${foreign.join(', ')}): the join takes it out of it`);
  if ((target.queues ?? 0) > 0) wipes.push(`${target.host} holds ${target.queues} queue(s): the join deletes them`);
  checks.push(
    pass(
      'join.wipes_data',
      wipes.length
        ? `the join wipes data on ${target.host} (see wipes)`
        : `${target.host} is ` +
            `${target.reach === 'running' ? 'standalone and empty' : 'not running: nothing known to wipe'}`,
    ),
  );
  return { checks, wipes };
}

/** teardown: every node must answer (a reset needs the node's VM); each node's data is reported. */
function judgeTeardown(facts: GateFacts): { checks: GateCheck[]; wipes: string[] } {
  const down = facts.members.filter((m) => m.reach === 'vm-down' || m.reach === 'unreachable');
  const checks: GateCheck[] = [
    down.length === 0
      ? pass('node.reachable', `all ${facts.members.length} node(s) answer`)
      : refuse(
          'node.reachable',
          `${down.map((m) => `${m.host} (${m.reach === 'vm-down' ? 'RabbitMQ down' : 'unreachable'})`).join(', ')}` +
            ` cannot be reset`,
          `Start RabbitMQ on ${down.map((m) => m.host).join(', ')} first, or ` +
            `take them out with node remove, then tear down.`,
        ),
    ...majorityNow(facts),
  ];
  const wipes = facts.members.map((m) => `${m.host}: its membership of ${facts.cluster}, users, vhosts and messages`);
  if (facts.clusterQueues !== undefined)
    wipes.push(`${facts.cluster} holds ${facts.clusterQueues} queue(s): all deleted`);
  return { checks, wipes };
}

/**
 * feature-flags.enable: a flag is enabled on every node at once, so every member must run its app
 * (RabbitMQ refuses, or waits, with a node missing); the flags it would enable are the report's.
 */
function judgeFeatureFlags(facts: GateFacts): { checks: GateCheck[]; wipes: string[] } {
  const notRunning = facts.members.filter((m) => m.reach !== 'running');
  const flags = facts.flagsToEnable;
  const reach: Record<NodeReach, string> = {
    running: 'running',
    'app-stopped': 'app stopped',
    'vm-down': 'RabbitMQ down',
    unreachable: 'unreachable',
  };
  const checks: GateCheck[] = [
    notRunning.length === 0
      ? pass('node.reachable', `all ${facts.members.length} node(s) run RabbitMQ`)
      : refuse(
          'node.reachable',
          `${notRunning.map((m) => `${m.host} (${reach[m.reach]})`).join(', ')}: a feature flag is enabled on ` +
            `every node at once and cannot be enabled with a node missing`,
          `Start RabbitMQ on ${notRunning.map((m) => m.host).join(', ')} (warren status ${facts.cluster}), ` +
            `or take the node out with node remove, then ask again.`,
        ),
    flags === undefined
      ? refuse(
          'flags.to_enable',
          'the feature flags could not be read: no member answered',
          `Check that the nodes of ${facts.cluster} answer (warren status ${facts.cluster}), then ask again.`,
        )
      : pass(
          'flags.to_enable',
          flags.length === 0
            ? 'every stable feature flag is already enabled: nothing to enable'
            : `would enable ${flags.length} stable feature flag(s): ${flags.join(', ')}`,
        ),
  ];
  return { checks, wipes: [] };
}

/**
 * restart: only a healthy cluster is rolled (every member running and answering, no partition, no
 * alarm, no node in maintenance): a roll takes one more node down at a time, and on a cluster
 * already short of a node that can cost quorum queues their majority.
 */
function judgeRestart(facts: GateFacts): { checks: GateCheck[]; wipes: string[] } {
  const down = facts.members.filter((m) => m.reach !== 'running');
  const problems = facts.health?.problems ?? ['no member answered cluster_status'];
  const checks: GateCheck[] = [
    down.length === 0
      ? pass('node.reachable', `all ${facts.members.length} node(s) run and answer`)
      : refuse(
          'node.reachable',
          `${down.map((m) => `${m.host} (${m.reach})`).join(', ')} not running or not answering`,
          `Start RabbitMQ on ${down.map((m) => m.host).join(', ')} first (warren status ${facts.cluster}).`,
        ),
    facts.health?.headline === 'healthy'
      ? pass('cluster.healthy', `${facts.cluster} is healthy: every node running, no partition, no alarm`)
      : refuse(
          'cluster.healthy',
          `${facts.cluster} is not healthy: ${problems.slice(0, 5).join('; ')}`,
          `Fix what warren status ${facts.cluster} reports first; ` +
            'a rolling restart takes one more node down at a time.',
        ),
    ...majorityNow(facts),
  ];
  return { checks, wipes: [] };
}

/** Judges a request from what was read; pure, so every rule is tested without a node. */
export function evaluateGates(facts: GateFacts, node?: string): GateReport {
  let judged: { checks: GateCheck[]; wipes: string[]; classicQueues?: ShownQueue[] };
  if (facts.operation === 'cluster.teardown') judged = judgeTeardown(facts);
  else if (isMigrationOperation(facts.operation))
    judged = judgeMigration(facts.operation, facts.cluster, facts.members, facts.migration);
  else if (facts.operation === 'feature-flags.enable') judged = judgeFeatureFlags(facts);
  else if (facts.operation === 'cluster.restart') judged = judgeRestart(facts);
  else if (!facts.target) throw new WarrenError('node.unknown', `${facts.operation} needs the node it acts on`);
  else if (facts.operation === 'node.add') judged = judgeAdd(facts, facts.target);
  else judged = judgeNodeLeaving(facts, facts.target);
  return {
    operation: facts.operation,
    cluster: facts.cluster,
    ...(node === undefined ? {} : { node }),
    allowed: judged.checks.every((c) => c.ok),
    checks: judged.checks,
    ...(facts.view ? { readFrom: facts.view.readFrom } : {}),
    wipes: judged.wipes,
    ...(facts.migration ? { migration: facts.migration } : {}),
    ...(judged.classicQueues ? { classicQueues: judged.classicQueues } : {}),
  };
}

/** The gate.refused error a refused report becomes: every failed check's reason and remedy. */
export function refusalError(report: GateReport): WarrenError {
  const failed = report.checks.filter((c) => !c.ok);
  return new WarrenError(
    'gate.refused',
    `${report.operation} ${report.cluster}` +
      `${report.node ? ` ${report.node}` : ''} refused: ` +
      `${failed.map((c) => `${c.id}: ${c.detail}`).join('; ')}`,
    {
      ...(report.node ? { host: report.node } : {}),
      hint: failed
        .map((c) => c.remedy ?? '')
        .filter(Boolean)
        .join(' '),
    },
  );
}

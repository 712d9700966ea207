import type { MirroringPolicy } from './policies.js';
import type { UnderReplicatedQueue } from './quorum-queues.js';

/**
 * Whether a cluster can be upgraded to a release series, and what stands in the way: a pure
 * judgement of what was read from its nodes (src/status/read-upgrade-readiness.ts reads them).
 * RabbitMQ's rules: a rolling upgrade moves one minor series at a time; every upgrade needs all
 * stable feature flags enabled first (the new version refuses to start otherwise); 4.0 removed
 * classic queue mirroring, so no mirroring policy may be left when 3.13 goes to 4.0; a 3.x
 * cluster that must reach 4.x beyond one series is moved blue/green (a new cluster beside it).
 */

/** The release series a rolling upgrade steps through, in order. */
export const RELEASE_SERIES = ['3.10', '3.11', '3.12', '3.13', '4.0', '4.1', '4.2', '4.3'] as const;
export type ReleaseSeries = (typeof RELEASE_SERIES)[number];

/** What was read from one node. */
export interface NodeReading {
  node: string;
  host: string;
  /** Undefined when the node could not be read (then `unreadable` says why). */
  rabbitmqVersion?: string;
  erlangVersion?: string;
  /** Stable feature flags not enabled on this node. */
  flagsNotEnabled: string[];
  /** Deprecated features the node sees in use; 'unsupported' before 3.13 (no such command). */
  deprecatedInUse: string[] | 'unsupported';
  alarms: string[];
  unreadable?: string;
}

/** Everything the judgement needs, read from the cluster. */
export interface ReadinessFacts {
  nodes: NodeReading[];
  mirroringPolicies: MirroringPolicy[];
  underReplicated: UnderReplicatedQueue[];
}

export type BlockerKind =
  | 'unreadable'
  | 'mixed-versions'
  | 'target'
  | 'feature-flags'
  | 'mirroring'
  | 'deprecated-features'
  | 'alarms'
  | 'under-replicated';

/** One thing that stops the upgrade, and what to do about it. */
export interface Blocker {
  kind: BlockerKind;
  what: string;
  fix: string;
}

/**
 * 'rolling': node by node on the running cluster, one series per upgrade (`hops` lists them);
 * 'blue-green': a new cluster of the target beside this one, definitions exported and imported,
 * messages moved (shovel or federation), clients switched; 'none': nothing to upgrade to.
 */
export type UpgradePath = 'rolling' | 'blue-green' | 'none';

export interface UpgradeVerdict {
  /** The series the cluster runs (its oldest node's), when every node was read. */
  from?: ReleaseSeries;
  /** The series asked for (`--to`), or the next one. */
  to?: string;
  path: UpgradePath;
  /** The series of each rolling upgrade in order (the first is the one judged now), or []. */
  hops: ReleaseSeries[];
  /** One line on the path, for people. */
  summary: string;
  blockers: Blocker[];
  /** Deprecated features in use that do not block this upgrade but will a later one. */
  warnings: string[];
  ready: boolean;
}

/** `4.0.5` -> `4.0`; undefined for a version outside RELEASE_SERIES or not a version at all. */
export function seriesOf(version: string): ReleaseSeries | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})(?:\.\d{1,6})?(?:[-+~.][0-9A-Za-z.+~-]{0,40})?$/.exec(version);
  if (!match) return undefined;
  const series = `${Number(match[1])}.${Number(match[2])}`;
  return (RELEASE_SERIES as readonly string[]).includes(series) ? (series as ReleaseSeries) : undefined;
}

/** A `--to` value: `4.0` or `4.0.5` (letters, digits and dots only, as the grammar lets through). */
export function isVersionText(text: string): boolean {
  return /^\d{1,3}\.\d{1,3}(?:\.\d{1,6})?$/.test(text);
}

const indexOf = (series: ReleaseSeries): number => RELEASE_SERIES.indexOf(series);
const majorOf = (series: ReleaseSeries): string => series.split('.')[0];

/** Deprecated features 4.0 removed: in use, they block the step from 3.13 to 4.0. */
const REMOVED_IN_4_0 = new Set(['classic_queue_mirroring', 'ram_node_type']);

/**
 * Judges the path from the cluster's series to `target` (a version or series; without it, the
 * next series) and every blocker of its first hop, each with what to do.
 */
export function judgeUpgrade(facts: ReadinessFacts, target?: string): UpgradeVerdict {
  const blockers: Blocker[] = [];
  const warnings: string[] = [];
  const unreadable = facts.nodes.filter((n) => n.unreadable !== undefined || n.rabbitmqVersion === undefined);
  for (const node of unreadable) {
    blockers.push({
      kind: 'unreadable',
      what: `${node.node} could not be read: ${node.unreadable ?? 'no version reported'}`,
      fix:
        `start RabbitMQ on ${node.host} (or make it answer SSH) and check ` +
        `again: an upgrade needs every node running`,
    });
  }
  // what blocks any upgrade, whatever the target
  const flagNodes = facts.nodes.filter((n) => n.flagsNotEnabled.length > 0);
  if (flagNodes.length > 0) {
    const flags = [...new Set(flagNodes.flatMap((n) => n.flagsNotEnabled))].sort();
    blockers.push({
      kind: 'feature-flags',
      what: `stable feature flags not enabled: ${flags.join(', ')} (on ${flagNodes.map((n) => n.node).join(', ')})`,
      fix:
        `enable them before the upgrade (\`rabbitmqctl enable_feature_flag ` +
        `all\` on one node): the next version refuses to start with a stable ` +
        `flag off (from 3.13 to 4.0: every 3.13 flag)`,
    });
  }
  const alarmed = facts.nodes.filter((n) => n.alarms.length > 0);
  if (alarmed.length > 0) {
    blockers.push({
      kind: 'alarms',
      what: `alarms: ${alarmed.map((n) => `${n.node} (${n.alarms.join(', ')})`).join('; ')}`,
      fix:
        'clear them first (free memory or disk, or fix the watermark): ' +
        'publishers are blocked, and a node restarted under an alarm comes ' +
        'back blocked',
    });
  }
  if (facts.underReplicated.length > 0) {
    const shown = facts.underReplicated
      .slice(0, 5)
      .map((q) => `${q.name} (vhost ${q.vhost}, none on ${q.missing.join(', ')})`);
    const more = facts.underReplicated.length > 5 ? ` and ${facts.underReplicated.length - 5} more` : '';
    blockers.push({
      kind: 'under-replicated',
      what: `quorum queues under-replicated: ${shown.join(', ')}${more}`,
      fix:
        'bring their replicas back first (start the nodes lacking one, or ' +
        '`rabbitmq-queues grow <node> all`): restarting one more node during ' +
        'the upgrade could cost them their quorum',
    });
  }
  const versions = facts.nodes.flatMap((n) => (n.rabbitmqVersion ? [n.rabbitmqVersion] : []));
  const series = [...new Set(versions.map((v) => seriesOf(v)))];
  if (series.includes(undefined)) {
    const odd = facts.nodes
      .filter((n) => n.rabbitmqVersion && !seriesOf(n.rabbitmqVersion))
      .map((n) => `${n.node} runs ${n.rabbitmqVersion}`);
    return none(
      `${odd.join(', ')}: warren knows the series ${RELEASE_SERIES.join(', ')}`,
      [
        ...blockers,
        {
          kind: 'target',
          what: odd.join(', '),
          fix: "upgrade it by RabbitMQ's own upgrade guide: warren judges only the series it knows",
        },
      ],
      target,
    );
  }
  const known = (series as ReleaseSeries[]).sort((a, b) => indexOf(a) - indexOf(b));
  if (known.length > 1) {
    blockers.push({
      kind: 'mixed-versions',
      what: `the nodes run different series (${facts.nodes
        .filter((n) => n.rabbitmqVersion)
        .map((n) => `${n.node} ${n.rabbitmqVersion}`)
        .join(', ')})`,
      fix:
        `finish the upgrade under way first: bring every node to ` +
        `${known[known.length - 1]}, then enable all feature flags`,
    });
  }
  const from = known[0];
  if (from === undefined) return none('no node could be read', blockers, target);

  let to: ReleaseSeries;
  if (target === undefined) {
    const next = RELEASE_SERIES[indexOf(from) + 1];
    if (next === undefined)
      return {
        ...none(`${from} is the newest series warren knows: nothing to upgrade to yet`, blockers, target),
        from,
      };
    to = next;
  } else {
    const asked = isVersionText(target) ? seriesOf(target) : undefined;
    if (asked === undefined) {
      return {
        ...none(
          `${target} is not a series warren knows`,
          [
            ...blockers,
            {
              kind: 'target',
              what: `--to ${target} is not one of ${RELEASE_SERIES.join(', ')}`,
              fix: 'name a release series such as 4.0, or a version such as 4.0.5',
            },
          ],
          target,
        ),
        from,
      };
    }
    if (indexOf(asked) < indexOf(from)) {
      return {
        ...none(
          `${target} is older than ${from}`,
          [
            ...blockers,
            {
              kind: 'target',
              what: `a downgrade from ${from} to ${target}`,
              fix:
                'RabbitMQ does not downgrade a cluster in place: build a cluster of ' +
                'the older series and move to it (blue/green)',
            },
          ],
          target,
        ),
        from,
      };
    }
    to = asked;
  }
  // a patch release of the same series is one rolling upgrade too
  const hops = to === from ? [to] : RELEASE_SERIES.slice(indexOf(from) + 1, indexOf(to) + 1);
  const crossesMajor = majorOf(from) !== majorOf(to);
  const path: UpgradePath = crossesMajor && hops.length > 1 ? 'blue-green' : 'rolling';

  const reaches4 = indexOf(to) >= indexOf('4.0') && indexOf(from) < indexOf('4.0');
  if (facts.mirroringPolicies.length > 0) {
    const names = facts.mirroringPolicies.map((p) => `${p.name} (vhost ${p.vhost}, ha-mode ${p.haMode})`);
    if (reaches4) {
      blockers.push({
        kind: 'mirroring',
        what: `classic queue mirroring policies block 4.0 (4.0 removed mirroring): ${names.join(', ')}`,
        fix:
          'move the mirrored queues to quorum queues (declare them as quorum, or ' +
          "make quorum each vhost's default queue type and re-declare), then " +
          'remove each policy (`rabbitmqctl clear_policy --vhost <vhost> <name>`)',
      });
    } else {
      warnings.push(
        `classic queue mirroring policies (${names.join(', ')}) will block the ` +
          `step to 4.0: plan the move to quorum queues`,
      );
    }
  }
  const deprecated = facts.nodes.flatMap((n) =>
    Array.isArray(n.deprecatedInUse) ? n.deprecatedInUse.map((f) => ({ node: n.node, feature: f })) : [],
  );
  const removed = deprecated.filter((d) => REMOVED_IN_4_0.has(d.feature));
  if (reaches4 && removed.length > 0) {
    blockers.push({
      kind: 'deprecated-features',
      what:
        `deprecated features 4.0 removed are in use: ` +
        `${[...new Set(removed.map((d) => d.feature))].join(', ')} (on ` +
        `${[...new Set(removed.map((d) => d.node))].join(', ')})`,
      fix:
        'stop using them first (`rabbitmq-diagnostics list_deprecated_features ' +
        '--used` lists them; classic_queue_mirroring: move to quorum queues; ' +
        'ram_node_type: make every node a disk node)',
    });
  }
  const others = deprecated.filter((d) => !(reaches4 && REMOVED_IN_4_0.has(d.feature)));
  if (others.length > 0)
    warnings.push(
      `deprecated features in use: ` +
        `${[...new Set(others.map((d) => d.feature))].join(', ')}: a later ` +
        `version may refuse them`,
    );
  const route = hops.length > 1 ? `${[from, ...hops].join(' → ')}` : `${from} → ${to}`;
  const summary =
    path === 'blue-green'
      ? `${from} → ${to} crosses from 3.x to 4.x beyond one series: blue/green ` +
        `(a new ${to} cluster beside this one, definitions exported and ` +
        `imported, messages moved by shovel or federation), or in place one ` +
        `series at a time: ${route}`
      : hops.length > 1
        ? `rolling upgrade, one series at a time: ${route} (${hops.length} ` +
          `upgrades; enable all feature flags after each)`
        : `rolling upgrade ${route}${to === from ? ' (a patch release of the same series)' : ''}: one node at a time`;
  return { from, to: target ?? to, path, hops, summary, blockers, warnings, ready: blockers.length === 0 };
}

function none(summary: string, blockers: Blocker[], target: string | undefined): UpgradeVerdict {
  return {
    ...(target === undefined ? {} : { to: target }),
    path: 'none',
    hops: [],
    summary,
    blockers,
    warnings: [],
    ready: false,
  };
}

import { z } from 'zod';
import { WarrenError } from '../errors.js';

/** The longest name an Erlang node can have: an atom holds at most 255 characters. */
export const NODE_NAME_MAX = 255;

const NodeName = z
  .string()
  .max(NODE_NAME_MAX, 'a node name of at most 255 characters')
  .regex(/^[^@\s]+@[^@\s]+$/, 'a node name such as rabbit@host');

const Alarm = z.union([
  z.string(),
  z.object({ node: z.string().optional(), resource: z.string().optional(), type: z.string().optional() }).loose(),
]);

/**
 * `rabbitmqctl cluster_status --formatter json`, only the fields we use. Keys differ across
 * 3.x–4.x: `ram_nodes` is gone in 4.x and `partitions` is absent on some versions, so both are
 * optional; `partitions` is an object keyed by node (an empty list on some builds when empty).
 */
/**
 * RabbitMQ 4.1.0–4.1.3 print `running_nodes` as one concatenated string (rabbitmq-server#14398):
 * split it back into the member names it is made of.
 */
function splitConcatenatedRunningNodes(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const record = raw as Record<string, unknown>;
  if (typeof record.running_nodes !== 'string') return raw;
  const listed = (key: string): unknown[] => (Array.isArray(record[key]) ? (record[key] as unknown[]) : []);
  const known = [...listed('disk_nodes'), ...listed('ram_nodes')].filter((n): n is string => typeof n === 'string');
  const running = splitByKnownNames(record.running_nodes, known) ?? [];
  return { ...record, running_nodes: running };
}

/** How many trie steps per character of the text a split may take before it gives up. */
const SPLIT_STEPS_PER_CHARACTER = 16;

class SplitTooCostly extends Error {}

interface NameTrie {
  next: Map<string, NameTrie>;
  /** A name ends here. */
  ends: boolean;
}

/**
 * Splits a concatenation of node names into those names, exactly: every character must belong to
 * one name, so `rabbit@lab10` is never read as `rabbit@lab1` plus garbage. Undefined if it can't.
 * Where several splits exist, longer names are taken first. Linear in the text (hosts choose both
 * the text and the names): which positions can be split to the end is worked out once, from the
 * end, walking a trie of the names; a walk is at most one atom long (255 characters), and all walks
 * together at most SPLIT_STEPS_PER_CHARACTER per character: names built to need more (hundreds of
 * names sharing long prefixes) are not split at all. Real names (`rabbit@<host>`) need a few.
 */
export function splitByKnownNames(text: string, names: readonly string[]): string[] | undefined {
  const root: NameTrie = { next: new Map(), ends: false };
  for (const name of names) {
    if (name.length === 0 || name.length > NODE_NAME_MAX) continue;
    let node = root;
    for (const char of name.split('')) {
      let child = node.next.get(char);
      if (!child) node.next.set(char, (child = { next: new Map(), ends: false }));
      node = child;
    }
    node.ends = true;
  }
  let budget = SPLIT_STEPS_PER_CHARACTER * (text.length + 1);
  /** The lengths of the names that start at `at`, longest first. */
  const matchesAt = (at: number): number[] => {
    const lengths: number[] = [];
    let node: NameTrie | undefined = root;
    for (let end = at; end < text.length && node; end++) {
      if (--budget < 0) throw new SplitTooCostly();
      node = node.next.get(text[end]);
      if (node?.ends) lengths.unshift(end + 1 - at);
    }
    return lengths;
  };
  try {
    // splittable[i] is 1 when the text from i on is a concatenation of names.
    const splittable = new Uint8Array(text.length + 1);
    splittable[text.length] = 1;
    for (let at = text.length - 1; at >= 0; at--) {
      if (matchesAt(at).some((length) => splittable[at + length] === 1)) splittable[at] = 1;
    }
    if (splittable[0] !== 1) return undefined;
    budget = Number.POSITIVE_INFINITY; // the forward pass repeats walks the first pass already paid for
    const parts: string[] = [];
    for (let at = 0; at < text.length;) {
      const length = matchesAt(at).find((l) => splittable[at + l] === 1)!;
      parts.push(text.slice(at, at + length));
      at += length;
    }
    return parts;
  } catch (error) {
    if (error instanceof SplitTooCostly) return undefined;
    throw error;
  }
}

export const ClusterStatus = z.preprocess(
  splitConcatenatedRunningNodes,
  z
    .object({
      cluster_name: z.string().optional(),
      disk_nodes: z.array(NodeName),
      ram_nodes: z.array(NodeName).optional(),
      running_nodes: z.array(NodeName),
      alarms: z.array(Alarm).default([]),
      partitions: z
        .union([
          z.record(z.string(), z.array(z.string())),
          z
            .array(z.unknown())
            .length(0)
            .transform((): Record<string, string[]> => ({})),
        ])
        .optional(),
      maintenance_status: z.record(z.string(), z.string()).optional(),
      versions: z
        .record(
          z.string(),
          z.object({ rabbitmq_version: z.string().optional(), erlang_version: z.string().optional() }).loose(),
        )
        .optional(),
    })
    .loose(),
);
export type ClusterStatus = z.infer<typeof ClusterStatus>;

/** At most this many of a parse's issues are named: a host can print a million wrong entries. */
const ISSUES_SHOWN = 5;

/** The first few issues of a failed parse, each cut short (paths hold the host's own keys), and how many more. */
function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const shown = issues
    .slice(0, ISSUES_SHOWN)
    .map((i) => `${i.path.join('.').slice(0, 80) || '(top)'}: ${i.message.slice(0, 120)}`);
  const more = issues.length > ISSUES_SHOWN ? `; and ${issues.length - ISSUES_SHOWN} more` : '';
  return shown.join('; ') + more;
}

/** Parses a command's JSON output with a schema; anything else is reported with the host and what was expected. */
export function parseJsonOutput<T>(schema: z.ZodType<T>, stdout: string, host: string, what: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(stdout);
  } catch {
    throw new WarrenError('status.unparseable', `${what} on ${host} did not print JSON: ${stdout.slice(0, 200)}`, {
      host,
    });
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const fields = describeIssues(result.error.issues);
    throw new WarrenError('status.unparseable', `${what} on ${host} has an unexpected shape: ${fields}`, { host });
  }
  return result.data;
}

/** Parses cluster_status JSON output; a node that printed something else is reported with what it printed. */
export function parseClusterStatus(stdout: string, host: string): ClusterStatus {
  let raw: unknown;
  try {
    raw = JSON.parse(stdout);
  } catch {
    throw new WarrenError('status.unparseable', `cluster_status on ${host} did not print JSON`, {
      host,
      hint: 'Run `rabbitmqctl cluster_status --formatter json` on the host and check the RabbitMQ version.',
    });
  }
  const result = ClusterStatus.safeParse(raw);
  if (!result.success) {
    const fields = describeIssues(result.error.issues);
    throw new WarrenError('status.unparseable', `cluster_status on ${host} has an unexpected shape: ${fields}`, {
      host,
    });
  }
  return result.data;
}

/** Node name -> the nodes it reports a partition with. */
export function partitionsOf(status: ClusterStatus): Record<string, string[]> {
  const partitions = status.partitions ?? {};
  return Object.fromEntries(Object.entries(partitions).filter(([, peers]) => peers.length > 0));
}

function alarmText(alarm: z.infer<typeof Alarm>): string {
  if (typeof alarm === 'string') return alarm;
  return [alarm.resource ?? alarm.type ?? 'alarm', alarm.node && `on ${alarm.node}`].filter(Boolean).join(' ');
}

function alarmNode(alarm: z.infer<typeof Alarm>): string | undefined {
  return typeof alarm === 'string' ? undefined : alarm.node;
}

export const HealthHeadline = z.enum(['healthy', 'degraded', 'partitioned', 'unreachable']);
export type HealthHeadline = z.infer<typeof HealthHeadline>;

export const NodeHealth = z.object({
  node: z.string(),
  /** The inventory host, when the node belongs to the configured cluster. */
  host: z.string().optional(),
  running: z.boolean(),
  rabbitmqVersion: z.string().optional(),
  erlangVersion: z.string().optional(),
  alarms: z.array(z.string()),
  /** e.g. "not under maintenance"; absent when the node did not report it (stopped, or old versions). */
  maintenance: z.string().optional(),
  partitionedFrom: z.array(z.string()),
  /**
   * Only on an incomplete reading (ClusterHealth.partial): whether the host answered SSH; `running`
   * then means nothing yet.
   */
  answering: z.boolean().optional(),
});
export type NodeHealth = z.infer<typeof NodeHealth>;

/**
 * A cluster's health as the status card, `warren status` and the operations' results show it: one
 * schema, so what a step computes and what a front end parses back from a job's result cannot drift.
 */
export const ClusterHealth = z.object({
  cluster: z.string(),
  headline: HealthHeadline,
  /** The host the status was read from (the seed, or another node when the seed is down). */
  readFrom: z.string().optional(),
  nodes: z.array(NodeHealth),
  /** One sentence per problem, naming the node; empty when healthy. */
  problems: z.array(z.string()),
  /** The expected node names (rabbit@<short hostname>) from the config. */
  expected: z.array(z.string()),
  /**
   * Set when this is not a full reading (cluster_status did not answer in time): what is still
   * missing, and the hosts that did not answer SSH at all.
   */
  partial: z.object({ missing: z.string(), silent: z.array(z.string()) }).optional(),
  /** 4.x only (src/status/quorum-replicas.ts): "Mnesia" or "Khepri", as the node read from reports it. */
  metadataStore: z.string().optional(),
  /** 4.x only: stable feature flags not yet enabled. */
  featureFlagsNotEnabled: z.array(z.string()).optional(),
  /** 4.x only: quorum queues with fewer online replicas than the cluster has nodes, and the nodes lacking one. */
  underReplicatedQueues: z
    .array(z.object({ vhost: z.string(), name: z.string(), online: z.array(z.string()), missing: z.array(z.string()) }))
    .optional(),
});
export type ClusterHealth = z.infer<typeof ClusterHealth>;

/**
 * Judges a cluster from one node's view: healthy when running = disk = expected, no alarms and
 * no partitions. `expected` maps node name -> inventory host.
 */
export function evaluateHealth(
  cluster: string,
  status: ClusterStatus,
  expected: Map<string, string>,
  readFrom: string,
): ClusterHealth {
  const running = new Set(status.running_nodes);
  const disk = new Set(status.disk_nodes);
  const ram = new Set(status.ram_nodes ?? []);
  const partitions = partitionsOf(status);
  // Alarms grouped by node once: a host may list many nodes and many alarms.
  const alarmsByNode = new Map<string, string[]>();
  for (const alarm of status.alarms) {
    const node = alarmNode(alarm);
    if (node === undefined) continue;
    const listed = alarmsByNode.get(node);
    if (listed) listed.push(alarmText(alarm));
    else alarmsByNode.set(node, [alarmText(alarm)]);
  }
  const allNodes = [
    ...new Set([...expected.keys(), ...status.disk_nodes, ...(status.ram_nodes ?? []), ...status.running_nodes]),
  ].sort();
  const nodes: NodeHealth[] = allNodes.map((node) => {
    const version = status.versions && Object.hasOwn(status.versions, node) ? status.versions[node] : undefined;
    return {
      node,
      ...(expected.has(node) ? { host: expected.get(node) } : {}),
      running: running.has(node),
      ...(version?.rabbitmq_version ? { rabbitmqVersion: version.rabbitmq_version } : {}),
      ...(version?.erlang_version ? { erlangVersion: version.erlang_version } : {}),
      alarms: alarmsByNode.get(node) ?? [],
      ...(status.maintenance_status && Object.hasOwn(status.maintenance_status, node)
        ? { maintenance: status.maintenance_status[node] }
        : {}),
      partitionedFrom: Object.hasOwn(partitions, node) ? partitions[node] : [],
    };
  });
  const problems: string[] = [];
  for (const node of expected.keys()) {
    if (!disk.has(node) && !ram.has(node)) problems.push(`${node} is not a member of the cluster`);
    else if (!running.has(node)) problems.push(`${node} is stopped`);
  }
  for (const node of allNodes) if (!expected.has(node)) problems.push(`${node} is a member but not in the config`);
  for (const node of status.ram_nodes ?? []) problems.push(`${node} is a RAM node (expected disk nodes)`);
  for (const alarm of status.alarms) problems.push(`alarm: ${alarmText(alarm)}`);
  for (const [node, peers] of Object.entries(partitions))
    problems.push(`${node} is partitioned from ${peers.join(', ')}`);
  for (const [node, state] of Object.entries(status.maintenance_status ?? {})) {
    if (!/not under maintenance/.test(state)) problems.push(`${node} is ${state}`);
  }
  const headline: HealthHeadline =
    Object.keys(partitions).length > 0 ? 'partitioned' : problems.length > 0 ? 'degraded' : 'healthy';
  return { cluster, headline, readFrom, nodes, problems, expected: [...expected.keys()] };
}

/** The health of a cluster none of whose nodes answered. */
export function unreachableHealth(cluster: string, expected: Map<string, string>, reasons: string[]): ClusterHealth {
  return {
    cluster,
    headline: 'unreachable',
    nodes: [...expected.keys()].map((node) => ({
      node,
      host: expected.get(node)!,
      running: false,
      alarms: [],
      partitionedFrom: [],
    })),
    problems: reasons,
    expected: [...expected.keys()],
  };
}

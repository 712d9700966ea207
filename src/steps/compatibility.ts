import { nodeNameOf } from '../config/load.js';
import type { Host } from '../config/schema.js';
import { WarrenError } from '../errors.js';
import { featureFlagsCommand } from '../rabbit/commands.js';
import { impliedMetadataStore, metadataStoreName, metadataStoreOf } from '../rabbit/feature-flags.js';
import type { MetadataStore } from '../rabbit/feature-flags.js';
import { readFeatureFlags } from '../rabbit/queries.js';
import { onEveryHost } from './step.js';
import type { Step, StepContext } from './step.js';

/** One node as the compatibility rule sees it. */
export interface NodeRelease {
  host: string;
  node: string;
  rabbitmqVersion: string;
  metadataStore?: MetadataStore;
}

/** `4.0.5` -> `4.0`: nodes of one release series cluster; of two, they refuse each other. */
export function releaseSeries(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}

function describe(n: NodeRelease): string {
  return (
    `${n.host} (${n.node}) runs RabbitMQ ${n.rabbitmqVersion}` +
    `${n.metadataStore ? ` with ${metadataStoreName(n.metadataStore)}` : ''}`
  );
}

/**
 * Why RabbitMQ cannot form one cluster of these nodes, or undefined when it can. Measured on
 * 3.10.8, 4.0.5 and 4.3.6: a join across release series fails with exit 69 either way (3.10 and
 * 4.0: incompatible feature flags; 4.0 into 4.3: incompatible feature flags), and 4.3 joining a
 * 4.0 cluster fails too but leaves a ghost disk node in the 4.0 cluster that only a reset of the
 * 4.3 node clears. So every node must run the seed's release series, checked before any join.
 */
export function formationProblem(seed: NodeRelease, joiners: readonly NodeRelease[]): WarrenError | undefined {
  const series = releaseSeries(seed.rabbitmqVersion);
  const odd = joiners.filter((n) => releaseSeries(n.rabbitmqVersion) !== series);
  if (odd.length === 0) return undefined;
  const majors = new Set([seed, ...joiners].map((n) => n.rabbitmqVersion.split('.')[0]));
  const why = [
    majors.size > 1
      ? 'RabbitMQ 3.x and 4.x nodes refuse to join each other (exit 69, incompatible feature flags)'
      : 'nodes of different release series refuse to join each other (exit 69)',
    ...(series === '4.0' &&
    odd.some((n) => releaseSeries(n.rabbitmqVersion) !== '4.0' && n.rabbitmqVersion.startsWith('4.'))
      ? ['and a newer 4.x node joining a 4.0 cluster leaves a ghost member in it that only a reset of that node clears']
      : []),
  ].join(', ');
  return new WarrenError(
    'preflight.incompatible_nodes',
    `RabbitMQ cannot form cluster from these nodes: the seed ` +
      `${describe(seed)}; ${odd.map(describe).join('; ')}. ` +
      `${why[0]?.toUpperCase()}${why.slice(1)}. Nothing was changed.`,
    {
      host: odd[0]?.host ?? seed.host,
      hint:
        `Install RabbitMQ ${series}.x (the seed's series) on ` +
        `${odd.map((n) => n.host).join(', ')}, or build the cluster from nodes ` +
        `that all run ` +
        `${odd[0] ? releaseSeries(odd[0].rabbitmqVersion) : series}.x with ` +
        `another seed; then run the create again.`,
    },
  );
}

/** Asks a running node for its metadata store when its version does not settle it; undefined when it cannot answer. */
async function readMetadataStore(ctx: StepContext, host: Host, version: string): Promise<MetadataStore | undefined> {
  const implied = impliedMetadataStore(version);
  if (implied) return implied;
  const flags = await readFeatureFlags(ctx.shells, host, { timeoutMs: 60_000 });
  return flags ? metadataStoreOf(flags) : undefined;
}

/**
 * Every node can form a cluster with the seed: same RabbitMQ release series (and so a metadata
 * store they share), refused before any cookie changes or any join is tried, naming each node.
 * Records each node's metadata store (Mnesia or Khepri). Read-only, so it runs on every attempt.
 */
export const compatibility: Step<Host> = {
  id: 'rabbit:compatibility',
  title: 'Check that the nodes can form one cluster (release series, metadata store)',
  skippedDetail: 'never skipped',

  plan(cluster) {
    return cluster.hosts.map((host) => ({
      step: this.id,
      host: host.name,
      command: featureFlagsCommand().text,
      when: 'RabbitMQ is 3.13–4.2 and running (3.x before 3.13 has Mnesia, 4.3 has Khepri)',
    }));
  },

  check(ctx) {
    return Promise.resolve([...ctx.cluster.hosts]);
  },

  async run(ctx, hosts) {
    const releases = await onEveryHost(hosts, async (host): Promise<NodeRelease> => {
      const facts = ctx.facts.get(host.name);
      const version = facts?.rabbitmqVersion;
      if (!facts || !version)
        throw new WarrenError('install.failed', `rabbitmq-server is not installed on ${host.name}`, {
          host: host.name,
        });
      const metadataStore = facts.metadataStore ?? (await readMetadataStore(ctx, host, version));
      if (metadataStore) ctx.facts.set(host.name, { ...facts, metadataStore });
      return {
        host: host.name,
        node: nodeNameOf(host),
        rabbitmqVersion: version,
        ...(metadataStore ? { metadataStore } : {}),
      };
    });
    const seed = releases.find((r) => r.host === ctx.cluster.seed.name);
    if (!seed)
      throw new WarrenError('node.unknown', `the seed ${ctx.cluster.seed.name} is not among the cluster's hosts`);
    const problem = formationProblem(
      seed,
      releases.filter((r) => r !== seed),
    );
    if (problem) throw problem;
    const stores = new Set(releases.map((r) => r.metadataStore ?? 'unknown'));
    const versions = [...new Set(releases.map((r) => r.rabbitmqVersion))];
    return {
      detail:
        `RabbitMQ ${versions.join(' / ')} on every node (series ` +
        `${releaseSeries(seed.rabbitmqVersion)}), metadata store ` +
        `${[...stores].map((s) => (s === 'unknown' ? 'not known yet' : metadataStoreName(s))).join(' / ')}`,
    };
  },
};

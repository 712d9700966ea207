import { setTimeout as sleep } from 'node:timers/promises';
import { nodeNameOf, resolveCluster } from '../config/load.js';
import type { MembershipChanges } from '../config/load.js';
import type { WarrenConfig } from '../config/schema.js';
import { WarrenError, toWarrenError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { evaluateHealth, unreachableHealth } from '../rabbit/cluster-status.js';
import type { ClusterHealth } from '../rabbit/cluster-status.js';
import { readNodeStatus } from '../rabbit/queries.js';
import { SshSessionPool } from '../ssh/session.js';
import type { CommandObserver } from '../ssh/session.js';
import { compareVersions } from '../rabbit/version.js';
import { expectedNodes } from '../steps/verify.js';
import { withQuorumDetails } from './quorum-replicas.js';

/** When a reading still runs, what is known is offered this soon (a silent node holds cluster_status ~60 s). */
export const EARLY_READING_MS = 8_000;
/** A reading never takes longer than this: past it, what is known is the answer. */
export const STATUS_DEADLINE_MS = 100_000;

export interface ReadStatusOptions {
  logger?: Logger;
  observer?: CommandObserver;
  env?: NodeJS.ProcessEnv;
  /** What node.add/node.remove changed (src/state/membership.ts); without it, the config's nodes. */
  membership?: MembershipChanges;
  /**
   * Called once, after `earlyAfterMs`, when the full reading has not arrived yet: what is known by
   * then (which hosts answer SSH, which do not). The full reading is still returned later.
   */
  onEarly?: (health: ClusterHealth) => void;
  earlyAfterMs?: number;
  /** The whole reading's bound (default 100 s); past it, the early reading is returned, saying what is missing. */
  deadlineMs?: number;
}

type Answer = { state: 'answering' } | { state: 'failed'; reason: string };

/**
 * A cluster's health, read from the seed, or from the next node that answers when the seed is
 * down. Read-only: it needs no lock and runs beside any operation. Every host is dialled at once
 * beside it, so when the reading is held up (cluster_status waits on a node that went silent) the
 * caller can be told early which hosts do not answer, and the reading is bounded in time.
 */
export async function readClusterStatus(
  config: WarrenConfig,
  clusterName: string,
  options: ReadStatusOptions = {},
): Promise<ClusterHealth> {
  const cluster = resolveCluster(config, clusterName, options.membership);
  const expected = expectedNodes({ cluster });
  const order = [cluster.seed, ...cluster.joiners];
  // Aborted once the answer is decided: a reading past its deadline must not dial the next node
  // (closing the pool alone does not stop that: a closed pool dials again on the next shell()).
  const done = new AbortController();
  const pool = new SshSessionPool(cluster.hosts, config.ssh, {
    signal: done.signal,
    ...(options.observer ? { observer: options.observer } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.env ? { env: options.env } : {}),
  });
  const answers = new Map<string, Answer>();
  // The pool shares each connection, so this dials nothing the reading below would not.
  for (const host of cluster.hosts) {
    pool.shell(host.name).then(
      () => answers.set(host.name, { state: 'answering' }),
      (thrown: unknown) => answers.set(host.name, { state: 'failed', reason: toWarrenError(thrown).message }),
    );
  }
  const reasons: string[] = [];
  const full = (async (): Promise<ClusterHealth> => {
    for (const host of order) {
      try {
        const status = await readNodeStatus(pool, host, { timeoutMs: 90_000 });
        if (typeof status === 'string') {
          throw new WarrenError(
            'status.unreachable',
            `RabbitMQ is not running on ${host.name} (${status === 'vm-down' ? 'no Erlang VM' : 'app stopped'})`,
            { host: host.name, retryable: true },
          );
        }
        const health = evaluateHealth(cluster.cluster.name, status, expected, host.name);
        const version = status.versions?.[nodeNameOf(host)]?.rabbitmq_version;
        if (!version || compareVersions(version, '4.0') < 0) return health;
        // 4.x: metadata store, feature flags, quorum queue replicas; a node that answered
        // cluster_status but not these still gives the cluster's health, with the reason
        return await withQuorumDetails(health, pool, host).catch((thrown: unknown) => ({
          ...health,
          problems: [
            ...health.problems,
            `quorum queue replicas not read on ${host.name}: ${toWarrenError(thrown).message}`,
          ],
        }));
      } catch (thrown) {
        const error = toWarrenError(thrown);
        reasons.push(`${host.name}: ${error.message}`);
        options.logger?.info({ host: host.name, code: error.code }, 'status: node did not answer, trying the next');
      }
    }
    return unreachableHealth(cluster.cluster.name, expected, reasons);
  })();
  const stop = new AbortController();
  const earlyAfterMs = options.earlyAfterMs ?? EARLY_READING_MS;
  const deadlineMs = options.deadlineMs ?? STATUS_DEADLINE_MS;
  const known = (missing: string): ClusterHealth =>
    knownHealth(cluster.cluster.name, expected, answers, missing, earlyAfterMs);
  try {
    // Aborted (the reading came first) or a throwing callback: either way the reading goes on.
    const early = sleep(earlyAfterMs, undefined, { signal: stop.signal })
      .then(() =>
        options.onEarly?.(
          known(
            `cluster_status from ${order[0].name} has not answered within ` +
              `${Math.round(earlyAfterMs / 1000)} s; still reading`,
          ),
        ),
      )
      .catch(() => undefined);
    const timedOut = sleep(deadlineMs, 'timeout' as const, { signal: stop.signal }).catch(() => undefined);
    const winner = await Promise.race([full, timedOut]);
    stop.abort();
    await early;
    if (winner === 'timeout') {
      options.logger?.warn({ cluster: clusterName, deadlineMs }, 'status: no full reading within the deadline');
      return known(
        `no node answered cluster_status within ` +
          `${Math.round(deadlineMs / 1000)} s` +
          `${reasons.length > 0 ? ` (${reasons.join('; ')})` : ''}`,
      );
    }
    return winner as ClusterHealth;
  } finally {
    stop.abort();
    done.abort();
    // Closing the connections ends a reading still under way (after the deadline).
    await pool.close();
    await full.catch(() => undefined);
  }
}

/**
 * What is known without cluster_status: which hosts answer SSH and which do not (after
 * `waitedMs`). RabbitMQ's state is unknown for all of them, so none is counted running.
 */
export function knownHealth(
  cluster: string,
  expected: Map<string, string>,
  answers: ReadonlyMap<string, Answer>,
  missing: string,
  waitedMs: number,
): ClusterHealth {
  const silent: string[] = [];
  const problems: string[] = [];
  const nodes = [...expected.entries()].map(([node, host]) => {
    const answer = answers.get(host);
    const answering = answer?.state === 'answering';
    if (!answering) {
      silent.push(host);
      problems.push(
        answer?.state === 'failed'
          ? `${host} (${node}) is not answering: ${answer.reason}`
          : `${host} (${node}) is not answering: no SSH reply within ${Math.round(waitedMs / 1000)} s`,
      );
    }
    return { node, host, running: false, alarms: [], partitionedFrom: [], answering };
  });
  problems.push(missing);
  return {
    cluster,
    headline: silent.length === nodes.length ? 'unreachable' : 'degraded',
    nodes,
    problems,
    expected: [...expected.keys()],
    partial: { missing, silent },
  };
}

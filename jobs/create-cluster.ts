import { transportUrlTemplate } from '../src/rabbit/transport-url.js';
import type { ClusterCreateResult } from '../src/operations/schema.js';
import { compatibility } from '../src/steps/compatibility.js';
import { cookie } from '../src/steps/cookie.js';
import { install } from '../src/steps/install.js';
import { join } from '../src/steps/join.js';
import { membership } from '../src/steps/membership.js';
import { preflight } from '../src/steps/preflight.js';
import { quorumMembers } from '../src/steps/quorum-members.js';
import { MIRRORING_DEPRECATED, effectiveReplication, replication } from '../src/steps/replication.js';
import { start } from '../src/steps/start.js';
import { declareStep } from '../src/steps/step.js';
import { verify } from '../src/steps/verify.js';
import { outputOf } from '../src/operations/operation.js';
import type { OperationDefinition } from '../src/operations/operation.js';

/**
 * The runbook, corrected: install → compatibility (release series, before anything changes) →
 * membership gate → cookie → start → join (serial) → replication → quorum queue replicas on every
 * node → verify. The gate refuses a node whose join would wipe something before its cookie
 * changes (a new cookie would already cut it off from its own cluster). The cookie step comes
 * before start so a node whose cookie must change restarts once, not twice: the cookie step stops
 * it and writes the cookie, the start step brings it up with the new one.
 */
export const createCluster: OperationDefinition<ClusterCreateResult> = {
  operation: 'cluster.create',
  title: 'Create cluster',
  steps: [
    declareStep(preflight),
    declareStep(install),
    declareStep(compatibility),
    declareStep(membership),
    declareStep(cookie),
    declareStep(start),
    declareStep(join),
    declareStep(replication),
    declareStep(quorumMembers('cluster')),
    declareStep(verify),
  ],
  // Read-only gates run on every attempt; so does start, whose check is cheap and which brings back
  // a node a dead worker left with its app stopped (between stop_app and start_app).
  alwaysRun: new Set([preflight.id, compatibility.id, membership.id, start.id, verify.id]),

  buildResult(outcome) {
    const { cluster, facts, steps } = outcome;
    const version = facts.get(cluster.seed.name)?.rabbitmqVersion;
    const mode = effectiveReplication(cluster, version);
    // verify runs on every attempt and last: a result is only built once it has passed
    const health = outputOf(outcome, verify);
    if (!health) throw new Error(`${verify.id} left no health: a result cannot be built without it`);
    // the seed's store is the cluster's: every joiner takes it over with the seed's feature flags
    const metadataStore = facts.get(cluster.seed.name)?.metadataStore;
    return {
      cluster: cluster.cluster.name,
      health,
      ...(metadataStore ? { metadataStore } : {}),
      replication: {
        mode,
        detail:
          mode === 'ha-all'
            ? `policy ha-all: ${cluster.cluster.haPolicyPattern} -> {"ha-mode":"all"}`
            : mode === 'quorum'
              ? 'quorum is the default queue type of every vhost'
              : 'no replication configured',
      },
      warnings: mode === 'ha-all' ? [MIRRORING_DEPRECATED] : [],
      transportUrl: transportUrlTemplate(cluster.hosts),
      steps: steps.map(({ id, state, durationMs, detail }) => ({
        id,
        state,
        ...(durationMs === undefined ? {} : { durationMs }),
        ...(detail === undefined ? {} : { detail }),
      })),
    };
  },
};

import { describe, expect, it } from 'vitest';
import { featureFlagsEnable } from '../../../jobs/feature-flags-enable.js';
import { resolveCluster } from '../../../src/config/load.js';
import type { WarrenError } from '../../../src/errors.js';
import { runOperation } from '../../../src/operations/run-operation.js';
import { planOperation } from '../../../src/plan.js';
import { CMD } from '../../support/expected-commands.js';
import { fixture } from '../../support/fixtures.js';
import { labConfig } from '../../support/inventory.js';
import { RecordingShells } from '../../support/recording-shells.js';
import type { Reply } from '../../support/recording-shells.js';
import { MemoryMembership, silentLogger } from '../../support/step-context.js';

const config = labConfig(3, { nodes: ['lab1', 'lab2', 'lab3'], seed: 'lab1' });
const demo = resolveCluster(config, 'demo');
const CLEAN = fixture('rabbitmq-3.10/cluster_status.clean.json');
const LAB3_STOPPED = fixture('rabbitmq-3.10/cluster_status.lab3-rabbit-stopped.json');
const ENABLES = /enable_feature_flag/;

/**
 * A formed 3.10.8 cluster whose flags are one state cluster-wide (as RabbitMQ keeps them): `stream_queue` disabled
 * until `enable_feature_flag all` is sent to any node; `down` nodes have no VM (exit 69).
 */
function cluster310(down: string[] = []) {
  const state = { streamQueueOn: false };
  const respond = (host: string, command: string): Reply => {
    if (down.includes(host)) return { code: 69 };
    if (command === CMD.clusterStatus) return { code: 0, stdout: down.length > 0 ? LAB3_STOPPED : CLEAN };
    if (command === CMD.listFeatureFlags)
      return {
        code: 0,
        stdout: fixture(
          state.streamQueueOn
            ? 'rabbitmq-3.10/list_feature_flags.json'
            : 'rabbitmq-3.10/list_feature_flags.stream_queue-disabled.json',
        ),
      };
    if (command === CMD.enableAllFeatureFlags) {
      state.streamQueueOn = true;
      return { code: 0, stdout: 'Enabling all feature flags ...\n' };
    }
    throw new Error(`unexpected ${host}: ${command}`);
  };
  return { state, respond };
}

async function run(respond: (host: string, command: string) => Reply, completedSteps: string[] = []) {
  const shells = new RecordingShells(config.hosts, respond);
  const outcome = await runOperation({
    definition: featureFlagsEnable,
    cluster: demo,
    membership: new MemoryMembership(),
    shells,
    options: { allowWipe: false },
    logger: silentLogger,
    completedSteps,
    report: () => Promise.resolve(),
    saveCheckpoint: () => Promise.resolve(),
  }).then(
    (result) => ({ result, error: undefined }),
    (e: unknown) => ({ result: undefined, error: e as WarrenError }),
  );
  return { ...outcome, shells, changes: shells.matching(ENABLES) };
}

describe('feature-flags.enable', () => {
  it('judges every node, enables the disabled stable flag from the seed once, and says which', async () => {
    const lab = cluster310();
    const { result, shells, changes } = await run(lab.respond);
    expect(changes).toEqual([`lab1: ${CMD.enableAllFeatureFlags}`]);
    for (const h of ['lab1', 'lab2', 'lab3']) expect(shells.commandsOn(h)[0]).toBe(CMD.clusterStatus);
    expect(lab.state.streamQueueOn).toBe(true);
    expect(result?.summary).toBe('demo: enabled 1 feature flag(s): stream_queue');
    expect(result?.steps.map((s) => [s.id, s.state])).toEqual([
      ['rabbit:safety-gates', 'done'],
      ['rabbit:enable-feature-flags', 'done'],
    ]);
  });

  it('finds nothing to enable on a second run: no enable command, the step skipped', async () => {
    const lab = cluster310();
    await run(lab.respond);
    const again = await run(lab.respond);
    expect(again.changes).toEqual([]);
    expect(again.result?.summary).toBe('demo: nothing to enable, every stable feature flag was already enabled');
    expect(again.result?.steps.map((s) => s.state)).toEqual(['done', 'skipped']);
  });

  it('refuses with a node down, naming it, before any flag is enabled', async () => {
    const lab = cluster310(['lab3']);
    const { error, changes } = await run(lab.respond);
    expect(error?.code).toBe('gate.refused');
    expect(error?.message).toContain('lab3 (RabbitMQ down): a feature flag is enabled on every node at once');
    expect(error?.hint).toContain('Start RabbitMQ on lab3');
    expect(changes).toEqual([]);
    expect(lab.state.streamQueueOn).toBe(false);
  });

  it('plans the gates (every node, then the flags) and the enable on the seed, connecting nowhere', () => {
    const plan = planOperation(config, 'feature-flags.enable', 'demo').map((c) => `${c.step} ${c.host}: ${c.command}`);
    expect(plan).toEqual([
      `rabbit:safety-gates lab1: ${CMD.clusterStatus}`,
      `rabbit:safety-gates lab2: ${CMD.clusterStatus}`,
      `rabbit:safety-gates lab3: ${CMD.clusterStatus}`,
      `rabbit:safety-gates lab1: ${CMD.listFeatureFlags}`,
      `rabbit:enable-feature-flags lab1: ${CMD.clusterStatus}`,
      `rabbit:enable-feature-flags lab1: ${CMD.listFeatureFlags}`,
      `rabbit:enable-feature-flags lab1: ${CMD.enableAllFeatureFlags}`,
      `rabbit:enable-feature-flags lab1: ${CMD.enableFeatureFlag("'<flag>'")}`,
      `rabbit:enable-feature-flags lab1: ${CMD.listFeatureFlags}`,
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { declareStep } from '../../../src/steps/step.js';
import { enableFeatureFlags } from '../../../src/steps/enable-feature-flags.js';
import { CMD } from '../../support/expected-commands.js';
import { fixture } from '../../support/fixtures.js';
import { labCluster } from '../../support/inventory.js';
import { RecordingShells } from '../../support/recording-shells.js';
import type { Reply } from '../../support/recording-shells.js';
import { stepContext } from '../../support/step-context.js';

const STATUS_310 = fixture('rabbitmq-3.10/cluster_status.clean.json');
/** The same cluster_status with lab1 on a release before 3.10 (whose CLI warren does not trust with `all`). */
const STATUS_39 = (() => {
  const status = JSON.parse(STATUS_310) as { versions: Record<string, { rabbitmq_version: string }> };
  status.versions['rabbit@lab1'].rabbitmq_version = '3.9.29';
  return JSON.stringify(status);
})();
const STREAM_OFF = fixture('rabbitmq-3.10/list_feature_flags.stream_queue-disabled.json');
const ALL_ON = fixture('rabbitmq-3.10/list_feature_flags.json');

/** lab1 answers cluster_status with `status`, then list_feature_flags with each of `flags` in turn. */
function seed(status: string, flags: string[], enable: (command: string) => Reply = () => ({ code: 0 })) {
  const cluster = labCluster(3);
  let reads = 0;
  const shells = new RecordingShells(cluster.hosts, (host, command) => {
    if (host !== 'lab1') throw new Error(`unexpected ${host}: ${command}`);
    if (command === CMD.clusterStatus) return { code: 0, stdout: status };
    if (command === CMD.listFeatureFlags) return { code: 0, stdout: flags[Math.min(reads++, flags.length - 1)] };
    if (command.includes('enable_feature_flag')) return enable(command);
    throw new Error(`unexpected ${host}: ${command}`);
  });
  const { ctx, reports } = stepContext(cluster, shells);
  return { shells, ctx, reports };
}

describe('rabbit:enable-feature-flags', () => {
  it('enables every stable flag with `all` on 3.10 (real 3.10.8 output), reads them back and names them', async () => {
    const { shells, ctx } = seed(STATUS_310, [STREAM_OFF, ALL_ON]);

    const outcome = await declareStep(enableFeatureFlags).execute(ctx);

    expect(shells.commandsOn('lab1')).toEqual([
      CMD.clusterStatus,
      CMD.listFeatureFlags,
      CMD.enableAllFeatureFlags,
      CMD.listFeatureFlags,
    ]);
    expect(outcome).toEqual({
      detail: 'enabled 1 feature flag(s): stream_queue',
      output: { enabled: ['stream_queue'], allAtOnce: true, host: 'lab1' },
    });
    expect(shells.commands.every((c) => c.host === 'lab1')).toBe(true);
  });

  it('enables one flag at a time before 3.10, each by name', async () => {
    const twoOff = JSON.stringify(
      (JSON.parse(STREAM_OFF) as { name: string; state: string }[]).map((f) =>
        f.name === 'user_limits' ? { ...f, state: 'disabled' } : f,
      ),
    );
    const { shells, ctx } = seed(STATUS_39, [twoOff, ALL_ON]);

    const outcome = await declareStep(enableFeatureFlags).execute(ctx);

    expect(shells.commandsOn('lab1')).toEqual([
      CMD.clusterStatus,
      CMD.listFeatureFlags,
      CMD.enableFeatureFlag('stream_queue'),
      CMD.enableFeatureFlag('user_limits'),
      CMD.listFeatureFlags,
    ]);
    expect(outcome?.output).toEqual({ enabled: ['stream_queue', 'user_limits'], allAtOnce: false, host: 'lab1' });
  });

  it('leaves the experimental khepri_db alone on 4.0 (real 4.0.5 output): only the stable flag counts', async () => {
    const { shells, ctx } = seed(STATUS_310, [
      fixture('rabbitmq-4.0/list_feature_flags.local_random-disabled.json'),
      fixture('rabbitmq-4.0/list_feature_flags.json'),
    ]);

    const outcome = await declareStep(enableFeatureFlags).execute(ctx);

    expect(outcome?.output?.enabled).toEqual(['rabbit_exchange_type_local_random']);
    expect(shells.commandsOn('lab1')).not.toContain(expect.stringContaining('khepri_db'));
    expect(shells.commandsOn('lab1').join('\n')).not.toMatch(/--opt-in/);
  });

  it('is skipped when every stable flag is on: a second run changes nothing', async () => {
    const { shells, ctx } = seed(STATUS_310, [ALL_ON]);

    await expect(declareStep(enableFeatureFlags).execute(ctx)).resolves.toBeUndefined();

    expect(shells.commandsOn('lab1')).toEqual([CMD.clusterStatus, CMD.listFeatureFlags]);
  });

  it('fails with flags.not_enabled, naming the flag, when the node still lists it disabled', async () => {
    const { ctx } = seed(STATUS_310, [STREAM_OFF]);

    await expect(declareStep(enableFeatureFlags).execute(ctx)).rejects.toMatchObject({
      code: 'flags.not_enabled',
      message: 'lab1 still lists stream_queue disabled after enable_feature_flag',
    });
  });

  it('fails the command with its evidence when enable_feature_flag exits non-zero', async () => {
    const { ctx } = seed(STATUS_310, [STREAM_OFF], () => ({
      code: 69,
      stderr: 'Error: unable to perform an operation',
    }));

    await expect(declareStep(enableFeatureFlags).execute(ctx)).rejects.toMatchObject({
      code: 'command.failed',
      evidence: { host: 'lab1', exitCode: 69 },
    });
  });

  it('refuses at once when the seed runs no RabbitMQ (exit 69): nothing is enabled', async () => {
    const cluster = labCluster(3);
    const shells = new RecordingShells(cluster.hosts, () => ({ code: 69 }));
    const { ctx } = stepContext(cluster, shells);

    await expect(declareStep(enableFeatureFlags).execute(ctx)).rejects.toMatchObject({
      code: 'status.unreachable',
      message: 'RabbitMQ is not running on lab1 (vm-down): no feature flag can be enabled with a node missing',
    });
    expect(shells.commandsOn('lab1')).toEqual([CMD.clusterStatus]);
  });

  it('plans the reads, the enable and the read-back on the seed', () => {
    expect(enableFeatureFlags.plan(labCluster(3)).map((c) => [c.host, c.command])).toEqual([
      ['lab1', CMD.clusterStatus],
      ['lab1', CMD.listFeatureFlags],
      ['lab1', CMD.enableAllFeatureFlags],
      ['lab1', CMD.enableFeatureFlag("'<flag>'")],
      ['lab1', CMD.listFeatureFlags],
    ]);
  });
});

import { z } from 'zod';
import { nodeNameOf } from '../config/load.js';
import type { Host } from '../config/schema.js';
import { WarrenError } from '../errors.js';
import {
  clusterStatusCommand,
  enableAllFeatureFlagsCommand,
  enableFeatureFlagCommand,
  featureFlagsCommand,
} from '../rabbit/commands.js';
import { enablesAllAtOnce, flagsToEnable } from '../rabbit/feature-flags.js';
import { readFeatureFlags, readNodeStatus } from '../rabbit/queries.js';
import type { StepContext, Step } from './step.js';

/** A flag is enabled on every node at once: it can take a while on a loaded cluster. */
const ENABLE_TIMEOUT_MS = 120_000;
const READ_TIMEOUT_MS = 60_000;

/** What the step did: the flags it enabled, by name (none on a cluster that had every stable flag on). */
export const EnabledFlags = z.object({
  enabled: z.array(z.string()),
  /** Whether `enable_feature_flag all` did it (else one flag at a time). */
  allAtOnce: z.boolean(),
  /** The node it asked. */
  host: z.string(),
});
export type EnabledFlags = z.infer<typeof EnabledFlags>;

interface PendingFlags {
  host: Host;
  flags: string[];
  allAtOnce: boolean;
}

/** The seed's flags (a flag's state is the cluster's: any running member answers the same). */
async function readFlagsToEnable(ctx: StepContext, host: Host): Promise<string[]> {
  const flags = await readFeatureFlags(ctx.shells, host, { timeoutMs: READ_TIMEOUT_MS });
  if (!flags)
    throw new WarrenError(
      'status.unreachable',
      `RabbitMQ is not running on ${host.name}: its feature flags cannot be read`,
      {
        host: host.name,
        hint: `Start RabbitMQ on ${host.name} (warren status ${ctx.cluster.cluster.name}), then ask again.`,
      },
    );
  return flagsToEnable(flags);
}

/**
 * feature-flags.enable: every stable feature flag not yet enabled, enabled cluster-wide from the
 * seed (`enable_feature_flag all` where the CLI has it: 3.10 and later, measured on 3.10.8, 4.0.5,
 * 4.3.6; else one by one), then read back: a flag still disabled fails the step with its name.
 * Experimental flags (khepri_db on 4.0) are never enabled. Nothing to enable: skipped.
 */
export const enableFeatureFlags: Step<PendingFlags, EnabledFlags> = {
  id: 'rabbit:enable-feature-flags',
  title: 'Enable every stable feature flag not yet enabled',
  skippedDetail: 'every stable feature flag is already enabled: nothing to enable',
  outputSchema: EnabledFlags,

  plan(cluster) {
    const host = cluster.seed.name;
    return [
      { step: this.id, host, command: clusterStatusCommand().text },
      { step: this.id, host, command: featureFlagsCommand().text },
      {
        step: this.id,
        host,
        command: enableAllFeatureFlagsCommand().text,
        when: 'a stable flag is disabled and the node runs 3.10 or later',
      },
      {
        step: this.id,
        host,
        command: enableFeatureFlagCommand('<flag>').text,
        when: 'for each stable flag disabled, on a node before 3.10',
      },
      { step: this.id, host, command: featureFlagsCommand().text, when: 'a flag was enabled (read back)' },
    ];
  },

  async check(ctx) {
    const host = ctx.cluster.seed;
    const status = await readNodeStatus(ctx.shells, host, { timeoutMs: READ_TIMEOUT_MS });
    if (typeof status === 'string')
      throw new WarrenError(
        'status.unreachable',
        `RabbitMQ is not running on ${host.name} (${status}): no feature flag can be enabled with a node missing`,
        { host: host.name, hint: `Start RabbitMQ on ${host.name}, then ask again.` },
      );
    const node = nodeNameOf(host);
    const version = Object.hasOwn(status.versions ?? {}, node) ? status.versions?.[node]?.rabbitmq_version : undefined;
    const flags = await readFlagsToEnable(ctx, host);
    return flags.length === 0 ? [] : [{ host, flags, allAtOnce: enablesAllAtOnce(version) }];
  },

  async run(ctx, pending) {
    const { host, flags, allAtOnce } = pending[0];
    const shell = await ctx.shells.shell(host.name);
    await ctx.report({ host: host.name, state: 'running', detail: `enabling ${flags.join(', ')}` });
    if (allAtOnce) await shell.run(enableAllFeatureFlagsCommand(), { timeoutMs: ENABLE_TIMEOUT_MS });
    else for (const flag of flags) await shell.run(enableFeatureFlagCommand(flag), { timeoutMs: ENABLE_TIMEOUT_MS });
    const left = await readFlagsToEnable(ctx, host);
    const stillOff = flags.filter((f) => left.includes(f));
    if (stillOff.length > 0)
      throw new WarrenError(
        'flags.not_enabled',
        `${host.name} still lists ${stillOff.join(', ')} disabled after enable_feature_flag`,
        {
          host: host.name,
          hint:
            `Check every node of ${ctx.cluster.cluster.name} runs the same RabbitMQ version ` +
            `(warren upgrade-check ${ctx.cluster.cluster.name}) and the node log, then run feature-flags enable again.`,
        },
      );
    await ctx.report({ host: host.name, state: 'done', detail: `enabled ${flags.join(', ')}` });
    return {
      detail: `enabled ${flags.length} feature flag(s): ${flags.join(', ')}`,
      output: { enabled: flags, allAtOnce, host: host.name },
    };
  },
};

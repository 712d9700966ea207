import { z } from 'zod';
import type { ResolvedCluster } from '../config/load.js';
import { WarrenError } from '../errors.js';
import { parseJsonOutput } from '../rabbit/cluster-status.js';
import {
  HA_POLICY_NAME,
  listPoliciesCommand,
  listVhostQueueTypesCommand,
  setDefaultQueueTypeCommand,
  setHaPolicyCommand,
} from '../rabbit/commands.js';
import { compareVersions } from '../rabbit/version.js';
import type { Step, StepContext } from './step.js';

export type EffectiveReplication = 'ha-all' | 'quorum' | 'none';

/** `list_policies --formatter json`, only the fields we use. */
export const Policies = z.array(
  z
    .object({
      name: z.string(),
      pattern: z.string(),
      // 3.x prints the definition as a JSON string; accept an object too. A string that is not JSON
      // is the host's bad output (status.unparseable), not a SyntaxError thrown out of the parse.
      definition: z.union([
        z.string().transform((s, ctx) => {
          try {
            return JSON.parse(s) as unknown;
          } catch {
            ctx.addIssue({ code: 'custom', message: 'a policy definition that is JSON' });
            return z.NEVER;
          }
        }),
        z.record(z.string(), z.unknown()),
      ]),
    })
    .loose(),
);
const VhostQueueTypes = z.array(z.object({ name: z.string(), default_queue_type: z.string().optional() }));

export const MIRRORING_DEPRECATED =
  'Classic queue mirroring (ha-mode) is deprecated and removed in ' +
  'RabbitMQ 4.0: plan a move to quorum queues before upgrading.';

/** `auto` picks by version: classic mirroring up to 3.13, quorum queues as the vhost default from 4.0. */
export function effectiveReplication(
  cluster: ResolvedCluster,
  rabbitmqVersion: string | undefined,
): EffectiveReplication {
  const mode = cluster.cluster.replication;
  if (mode !== 'auto') return mode;
  return rabbitmqVersion && compareVersions(rabbitmqVersion, '4.0') >= 0 ? 'quorum' : 'ha-all';
}

function seedVersion(ctx: StepContext): string | undefined {
  return ctx.facts.get(ctx.cluster.seed.name)?.rabbitmqVersion;
}

/** The mode to apply on this cluster's version, refusing combinations the version rejects. */
export function modeOf(ctx: StepContext): EffectiveReplication {
  const version = seedVersion(ctx);
  const mode = effectiveReplication(ctx.cluster, version);
  if (mode === 'ha-all' && version && compareVersions(version, '4.0') >= 0) {
    throw new WarrenError('replication.unsupported', `RabbitMQ ${version} rejects classic mirroring (ha-mode)`, {
      hint: 'Set clusters[].replication to "quorum" (or "auto").',
    });
  }
  if (mode === 'quorum' && version && compareVersions(version, '3.11') < 0) {
    throw new WarrenError(
      'replication.unsupported',
      `RabbitMQ ${version} cannot make quorum the default queue type (needs 3.11 or later)`,
      {
        hint: 'Use replication "ha-all" (or "auto") on this version, or upgrade RabbitMQ.',
      },
    );
  }
  return mode;
}

type Pending = { kind: 'policy' } | { kind: 'default-queue-type'; vhost: string };

/** Queue replication as the cluster's mode asks, applied once on the seed (the cluster shares it). */
export const replication: Step<Pending> = {
  id: 'rabbit:replication',
  title: 'Set queue replication',
  skippedDetail: 'replication already in place',

  plan(cluster) {
    const mode = effectiveReplication(cluster, undefined);
    const host = cluster.seed.name;
    if (mode === 'none') return [];
    if (cluster.cluster.replication === 'auto') {
      return [
        {
          step: this.id,
          host,
          command: setHaPolicyCommand(cluster.cluster.haPolicyPattern).text,
          when: 'RabbitMQ is 3.x and the policy is not set',
        },
        {
          step: this.id,
          host,
          command: setDefaultQueueTypeCommand('/', 'quorum').text,
          when: "RabbitMQ is 4.x and each vhost's default queue type is not quorum",
        },
      ];
    }
    return mode === 'ha-all'
      ? [
          {
            step: this.id,
            host,
            command: setHaPolicyCommand(cluster.cluster.haPolicyPattern).text,
            when: 'the policy is not set',
          },
        ]
      : [
          {
            step: this.id,
            host,
            command: setDefaultQueueTypeCommand('/', 'quorum').text,
            when: "each vhost's default queue type is not quorum",
          },
        ];
  },

  async check(ctx) {
    const mode = modeOf(ctx);
    const shell = await ctx.shells.shell(ctx.cluster.seed.name);
    if (mode === 'ha-all') {
      const policies = parseJsonOutput(
        Policies,
        (await shell.run(listPoliciesCommand())).stdout,
        shell.host.name,
        'list_policies',
      );
      const inPlace = policies.some((p) => {
        const definition = p.definition as Record<string, unknown>;
        return (
          p.name === HA_POLICY_NAME &&
          p.pattern === ctx.cluster.cluster.haPolicyPattern &&
          definition['ha-mode'] === 'all'
        );
      });
      return inPlace ? [] : [{ kind: 'policy' }];
    }
    if (mode === 'quorum') {
      const vhosts = parseJsonOutput(
        VhostQueueTypes,
        (await shell.run(listVhostQueueTypesCommand())).stdout,
        shell.host.name,
        'list_vhosts',
      );
      return vhosts
        .filter((v) => v.default_queue_type !== 'quorum')
        .map((v) => ({ kind: 'default-queue-type', vhost: v.name }));
    }
    return [];
  },

  async run(ctx, pending) {
    const shell = await ctx.shells.shell(ctx.cluster.seed.name);
    for (const item of pending) {
      if (item.kind === 'policy') await shell.run(setHaPolicyCommand(ctx.cluster.cluster.haPolicyPattern));
      else await shell.run(setDefaultQueueTypeCommand(item.vhost, 'quorum'));
    }
    const first = pending[0];
    return {
      detail:
        first?.kind === 'policy'
          ? `policy ${HA_POLICY_NAME} set: ${ctx.cluster.cluster.haPolicyPattern} -> {"ha-mode":"all"}`
          : `default queue type quorum on ` +
            `${pending.map((p) => (p.kind === 'default-queue-type' ? p.vhost : '')).join(', ')}`,
    };
  },
};

import type { Host } from '../config/schema.js';
import { WarrenError, isWarrenError } from '../errors.js';
import { aptInstallCommand, aptUpdateCommand, packageStatusCommand } from '../rabbit/commands.js';
import { installedVersionOf } from './preflight.js';
import { upstreamVersion } from '../rabbit/version.js';
import { onEveryHost, timedOnHost } from './step.js';
import type { Step, StepContext } from './step.js';

/**
 * apt's words for "no such package in my lists": an `apt-get update` may fix that, nothing else will.
 * The version is quoted (`E: Version '9.9' for 'rabbitmq-server' was not found`): matching it as
 * `[^']*` keeps the scan linear, where `.*` rescanned the rest of the line from every "Version ".
 */
const MISSING_FROM_LISTS =
  /Unable to locate package|has no installation candidate|Version '[^']*' for '[^']*' was not found/;

/** Does apt-get's stderr say the package (or version) is not in its lists? */
export function isMissingFromLists(stderr: string): boolean {
  return MISSING_FROM_LISTS.test(stderr);
}

async function installOn(ctx: StepContext, host: Host, version: string | undefined): Promise<string> {
  const shell = await ctx.shells.shell(host.name);
  try {
    await shell.run(aptInstallCommand(version), { timeoutMs: 600_000 });
  } catch (error) {
    if (!isWarrenError(error) || !isMissingFromLists(error.evidence?.stderr ?? '')) throw error;
    await shell.run(aptUpdateCommand(), { timeoutMs: 300_000 });
    await shell.run(aptInstallCommand(version), { timeoutMs: 600_000 });
  }
  const installed = installedVersionOf((await shell.run(packageStatusCommand())).stdout);
  if (!installed)
    throw new WarrenError(
      'install.failed',
      `rabbitmq-server is still not installed on ${host.name} after apt-get install`,
      { host: host.name },
    );
  const facts = ctx.facts.get(host.name);
  if (facts)
    ctx.facts.set(host.name, { ...facts, packageVersion: installed, rabbitmqVersion: upstreamVersion(installed) });
  return installed;
}

/** rabbitmq-server on every node, at the pinned version if one is set; nodes in parallel. */
export const install: Step<Host> = {
  id: 'rabbit:install',
  title: 'Install rabbitmq-server',
  skippedDetail: 'rabbitmq-server already installed on every node',

  plan(cluster) {
    return cluster.hosts.map((host) => ({
      step: this.id,
      host: host.name,
      command: aptInstallCommand(cluster.cluster.packageVersion).text,
      when: cluster.cluster.packageVersion
        ? `rabbitmq-server ${cluster.cluster.packageVersion} is not installed`
        : 'rabbitmq-server is not installed',
    }));
  },

  check(ctx) {
    const pinned = ctx.cluster.cluster.packageVersion;
    const pending: Host[] = [];
    for (const host of ctx.cluster.hosts) {
      const installed = ctx.facts.get(host.name)?.packageVersion;
      if (!installed) {
        pending.push(host);
      } else if (pinned && installed !== pinned) {
        // Upgrading or downgrading a broker in place is not "install": refuse rather than surprise.
        return Promise.reject(
          new WarrenError(
            'install.version_conflict',
            `${host.name} has rabbitmq-server ${installed}, but the cluster pins ${pinned}`,
            {
              host: host.name,
              hint:
                `Upgrade or downgrade ${host.name} deliberately (or change ` +
                `clusters[].packageVersion), then run the create again.`,
            },
          ),
        );
      }
    }
    return Promise.resolve(pending);
  },

  async run(ctx, hosts) {
    const version = ctx.cluster.cluster.packageVersion;
    await onEveryHost(hosts, (host) =>
      timedOnHost(
        ctx,
        host.name,
        () => installOn(ctx, host, version),
        (v) => `installed rabbitmq-server ${v}`,
      ),
    );
    return { detail: `installed on ${hosts.map((h) => h.name).join(', ')}` };
  },
};

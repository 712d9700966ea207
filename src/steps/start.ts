import type { Host } from '../config/schema.js';
import { WarrenError, isWarrenError } from '../errors.js';
import {
  checkRunningCommand,
  serviceStartCommand,
  stopVmWithoutCliCommand,
  waitRunningCommand,
} from '../rabbit/commands.js';
import type { ServiceManager } from '../rabbit/commands.js';
import { onEveryHost, timedOnHost } from './step.js';
import type { Step, StepContext } from './step.js';

/** How long a node may take to boot RabbitMQ before the step fails (a 2-core host needs ~7 s). */
const START_DEADLINE_SECONDS = 150;

function managerOf(ctx: StepContext, host: Host): ServiceManager {
  return ctx.facts.get(host.name)?.serviceManager ?? 'sysv';
}

export async function isRunning(ctx: StepContext, host: Host): Promise<boolean> {
  const shell = await ctx.shells.shell(host.name);
  const result = await shell.run(checkRunningCommand(), { okExitCodes: [69, 70, 1, 2], timeoutMs: 60_000 });
  return result.code === 0;
}

/**
 * Starts the service and waits for the app (check_running, then await_startup), with a deadline.
 * A start that outlives its deadline is not a transient blip: the remote `timeout` ends the init
 * script but not the VM it detached, so that VM is stopped (a retry would otherwise find one more
 * each time) and the step fails for good with what was seen.
 */
export async function ensureRunning(ctx: StepContext, host: Host): Promise<void> {
  const shell = await ctx.shells.shell(host.name);
  try {
    await shell.run(serviceStartCommand(managerOf(ctx, host)), { timeoutMs: (START_DEADLINE_SECONDS + 30) * 1000 });
  } catch (error) {
    if (!isWarrenError(error) || error.code !== 'command.timeout') throw error;
    const cleanup = await shell.run(stopVmWithoutCliCommand(), { timeoutMs: 90_000 }).then(
      () => 'the VM it left was stopped',
      (e: unknown) => `stopping the VM it left failed too (${isWarrenError(e) ? e.code : 'internal'})`,
    );
    throw new WarrenError(
      'start.timeout',
      `RabbitMQ did not start on ${host.name} within ${START_DEADLINE_SECONDS + 30} s; ${cleanup}`,
      {
        host: host.name,
        ...(error.evidence ? { evidence: error.evidence } : {}),
        hint:
          `Look at /var/log/rabbitmq on ${host.name} (a taken distribution port ` +
          `25672, a cookie the VM cannot read, disk or memory alarms), fix the ` +
          `cause, then run the job again.`,
        cause: error,
      },
    );
  }
  await shell.run(waitRunningCommand(START_DEADLINE_SECONDS), { timeoutMs: (START_DEADLINE_SECONDS + 30) * 1000 });
}

/** The RabbitMQ service running on every node (the ones the cookie step stopped included); in parallel. */
export const start: Step<Host> = {
  id: 'rabbit:start',
  title: 'Start RabbitMQ on every node',
  skippedDetail: 'RabbitMQ already running on every node',

  plan(cluster) {
    return cluster.hosts.flatMap((host) => [
      {
        step: this.id,
        host: host.name,
        command: serviceStartCommand(host.serviceManager === 'systemd' ? 'systemd' : 'sysv').text,
        when:
          host.serviceManager === 'auto'
            ? 'RabbitMQ is not running (systemctl instead of service where systemd is PID 1)'
            : 'RabbitMQ is not running',
      },
      {
        step: this.id,
        host: host.name,
        command: waitRunningCommand(START_DEADLINE_SECONDS).text,
        when: 'RabbitMQ is not running',
      },
    ]);
  },

  async check(ctx) {
    const running = await onEveryHost(ctx.cluster.hosts, async (host) => ({
      host,
      running: await isRunning(ctx, host),
    }));
    return running.filter((r) => !r.running).map((r) => r.host);
  },

  async run(ctx, hosts) {
    await onEveryHost(hosts, (host) =>
      timedOnHost(
        ctx,
        host.name,
        () => ensureRunning(ctx, host),
        () => 'started',
      ),
    );
    return { detail: `started ${hosts.map((h) => h.name).join(', ')}` };
  },
};

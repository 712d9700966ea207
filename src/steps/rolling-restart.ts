import { z } from 'zod';
import { nodeNameOf } from '../config/load.js';
import type { ResolvedCluster } from '../config/load.js';
import type { Host } from '../config/schema.js';
import { WarrenError, isWarrenError } from '../errors.js';
import { quorumCriticalCommand, serviceStartCommand, waitRunningCommand } from '../rabbit/commands.js';
import { readNodeStatus, readQuorumVerdict } from '../rabbit/queries.js';
import {
  awaitQuorumPlusOneCommand,
  awaitServiceIdleCommand,
  bootIdentityCommand,
  drainCommand,
  initialSyncCheckCommand,
  parseBootIdentity,
  restartCapabilities,
  reviveCommand,
  serviceRestartCommand,
} from '../rabbit/rolling-restart.js';
import type { RestartCapabilities } from '../rabbit/rolling-restart.js';
import { pauseUnlessCancelled } from '../ssh/cancellation.js';
import { NodeOutcomes, timedOnHost } from './step.js';
import type { PlannedCommand, Step, StepContext } from './step.js';

/** How long a node may take to come back (await_startup), as the start step allows. */
export const RESTART_START_SECONDS = 150;
/** How long the roll waits for the quorum queues before (and after) one node. */
export const QUORUM_WAIT_SECONDS = 120;
/** Between two polls of a health check that cannot wait by itself. */
const POLL_MS = 2_000;

/**
 * Where one node stands in the roll, saved in the job before each irreversible command:
 * `restarting` carries the VM identity read just before the restart (so a resumed attempt can tell
 * whether the restart happened: a new VM means it did); `done` means back, revived and caught up.
 */
const NodeMark = z.discriminatedUnion('phase', [
  z.object({ phase: z.literal('restarting'), before: z.string().max(200), version: z.string().max(40).optional() }),
  z.object({ phase: z.literal('done') }),
]);
type NodeMark = z.infer<typeof NodeMark>;
/** The step's checkpoint: every node's mark, by inventory host name. */
export const RollCheckpoint = z.object({ nodes: z.record(z.string(), NodeMark) });
export type RollCheckpoint = z.infer<typeof RollCheckpoint>;

/** The order of the roll: the joiners as the config lists them, the seed last. */
export function rollOrder(cluster: ResolvedCluster): Host[] {
  return [...cluster.joiners, cluster.seed];
}

function marksOf(ctx: StepContext): RollCheckpoint {
  const saved = RollCheckpoint.safeParse(ctx.checkpoint.read());
  return saved.success ? saved.data : { nodes: {} };
}

/** The per-node commands, in order, as a dry run shows them. */
export function planNodeRestart(step: string, host: Host, version?: string): PlannedCommand[] {
  const caps = restartCapabilities(version);
  const at = (command: string, when?: string): PlannedCommand => ({
    step,
    host: host.name,
    command,
    ...(when ? { when } : {}),
  });
  return [
    caps.awaitQuorumPlusOne
      ? at(
          awaitQuorumPlusOneCommand(QUORUM_WAIT_SECONDS).text,
          'before its restart, until no quorum queue depends on it',
        )
      : at(quorumCriticalCommand().text, 'polled until it passes (versions without await_online_quorum_plus_one)'),
    ...(caps.maintenance ? [at(drainCommand().text, '3.8.8 and later: maintenance mode')] : []),
    at(serviceRestartCommand(host.serviceManager).text),
    at(waitRunningCommand(RESTART_START_SECONDS).text),
    ...(caps.maintenance ? [at(reviveCommand().text)] : []),
    at(awaitQuorumPlusOneCommand(QUORUM_WAIT_SECONDS).text, 'its quorum queue replicas online again'),
    at(initialSyncCheckCommand().text, '4.0 and later: polled until its new replicas caught up'),
  ];
}

/**
 * cluster.restart: one node at a time, the seed last. Before each node the roll waits until no
 * quorum queue depends on it, drains it, restarts the service, waits for the app, revives it and
 * waits until its quorum replicas are back before the next node. Each node's progress is saved in
 * the job (the step's checkpoint), so a worker killed mid-roll resumes at the node it was on and
 * restarts no node twice. A node that does not come back stops the roll there: the nodes after it
 * are not touched and keep serving.
 */
export const rollingRestart: Step<Host, NodeOutcomes> = {
  id: 'rabbit:rolling-restart',
  title: 'Restart every node, one at a time, the seed last',
  skippedDetail: 'every node was restarted by an earlier attempt',
  outputSchema: NodeOutcomes,

  plan(cluster) {
    return rollOrder(cluster).flatMap((host) => planNodeRestart(this.id, host));
  },

  check(ctx) {
    const marks = marksOf(ctx);
    return Promise.resolve(rollOrder(ctx.cluster).filter((h) => marks.nodes[h.name]?.phase !== 'done'));
  },

  async run(ctx, pending) {
    const order = rollOrder(ctx.cluster);
    const outcomes: { host: string; outcome: string }[] = [];
    for (const host of pending) {
      const how = await timedOnHost(
        ctx,
        host.name,
        () => restartNode(ctx, host, order),
        (outcome) => outcome,
      );
      outcomes.push({ host: host.name, outcome: how });
    }
    return { detail: `${pending.map((h) => h.name).join(', ')} restarted in turn`, output: { outcomes } };
  },
};

async function saveMark(ctx: StepContext, host: Host, mark: NodeMark): Promise<void> {
  const marks = marksOf(ctx);
  await ctx.checkpoint.save({ nodes: { ...marks.nodes, [host.name]: mark } });
}

async function bootIdentity(ctx: StepContext, host: Host): Promise<string> {
  const result = await (await ctx.shells.shell(host.name)).run(bootIdentityCommand(), { timeoutMs: 30_000 });
  return parseBootIdentity(result.stdout);
}

/** One node's turn; returns its outcome line. Resumes from the node's mark when an attempt died during it. */
async function restartNode(ctx: StepContext, host: Host, order: readonly Host[]): Promise<string> {
  const shell = await ctx.shells.shell(host.name);
  let mark = marksOf(ctx).nodes[host.name];
  let resumed = false;
  if (mark === undefined) {
    const status = await readNodeStatus(ctx.shells, host);
    if (typeof status === 'string')
      throw rollStopped(ctx, host, order, `RabbitMQ is not running there (${status}) before its restart`);
    const version = status.versions?.[nodeNameOf(host)]?.rabbitmq_version;
    const caps = restartCapabilities(version);
    await ctx.report({ host: host.name, state: 'running', detail: 'waiting until no quorum queue depends on it' });
    await awaitNotCritical(ctx, host, caps, order, 'before');
    if (caps.maintenance) {
      await ctx.report({ host: host.name, state: 'running', detail: 'draining (maintenance mode)' });
      await shell.run(drainCommand(), { timeoutMs: 180_000 });
    }
    mark = { phase: 'restarting', before: await bootIdentity(ctx, host), ...(version ? { version } : {}) };
    // Saved before the restart: from here on a resumed attempt must find out whether it happened.
    await saveMark(ctx, host, mark);
  } else resumed = true;
  if (mark.phase === 'done') return 'restarted by an earlier attempt';
  const caps = restartCapabilities(mark.version);
  if (resumed)
    await shell.run(awaitServiceIdleCommand(RESTART_START_SECONDS), { timeoutMs: (RESTART_START_SECONDS + 30) * 1000 });
  const now = resumed ? await bootIdentity(ctx, host) : mark.before;
  await ctx.report({ host: host.name, state: 'running', detail: 'restarting the service' });
  await untilBack(ctx, host, order, async () => {
    if (now === mark.before)
      await shell.run(serviceRestartCommand(host.serviceManager), { timeoutMs: (RESTART_START_SECONDS + 30) * 1000 });
    // An attempt that died in the middle of the restart left the node stopped: start it, once.
    else if (now === 'none')
      await shell.run(serviceStartCommand(host.serviceManager === 'systemd' ? 'systemd' : 'sysv'), {
        timeoutMs: (RESTART_START_SECONDS + 30) * 1000,
      });
    await shell.run(waitRunningCommand(RESTART_START_SECONDS), { timeoutMs: (RESTART_START_SECONDS + 30) * 1000 });
  });
  if (caps.maintenance) {
    await ctx.report({ host: host.name, state: 'running', detail: 'back: reviving' });
    await shell.run(reviveCommand(), { timeoutMs: 120_000 });
  }
  await ctx.report({ host: host.name, state: 'running', detail: 'waiting for its quorum queue replicas' });
  await awaitNotCritical(ctx, host, caps, order, 'after');
  if (caps.initialSyncCheck) await pollUntilPasses(ctx, host, order);
  await saveMark(ctx, host, { phase: 'done' });
  return resumed && now !== mark.before ? 'restarted (the restart was seen by a resumed attempt)' : 'restarted';
}

/** Runs the restart and the wait for the app; a node that does not come back stops the roll. */
async function untilBack(ctx: StepContext, host: Host, order: readonly Host[], work: () => Promise<void>) {
  try {
    await work();
  } catch (thrown) {
    if (!isWarrenError(thrown) || (thrown.code !== 'command.failed' && thrown.code !== 'command.timeout')) throw thrown;
    throw rollStopped(ctx, host, order, 'it did not come back after its restart', thrown);
  }
}

/**
 * Before a node: no quorum queue may depend on it. After it: its replicas are online again (the
 * same question, asked of the node just restarted). Where the version has no
 * await_online_quorum_plus_one, check_if_node_is_quorum_critical is polled.
 */
async function awaitNotCritical(
  ctx: StepContext,
  host: Host,
  caps: RestartCapabilities,
  order: readonly Host[],
  when: 'before' | 'after',
): Promise<void> {
  const shell = await ctx.shells.shell(host.name);
  const stuck = (cause?: WarrenError) =>
    new WarrenError(
      'restart.quorum_wait',
      `${host.name}: quorum queues still depend on it after ${QUORUM_WAIT_SECONDS} s ` +
        `(${when === 'before' ? 'before its restart' : 'after its restart'}); the roll stopped there`,
      {
        host: host.name,
        ...(cause?.evidence ? { evidence: cause.evidence } : {}),
        hint:
          `${doneBefore(ctx, host, order)} See which queues lack online replicas ` +
          `(rabbitmq-diagnostics check_if_node_is_quorum_critical on ${host.name}); bring their ` +
          `members back or grow them (rabbitmq-queues grow), then run cluster restart again.`,
        ...(cause ? { cause } : {}),
      },
    );
  if (caps.awaitQuorumPlusOne) {
    try {
      await shell.run(awaitQuorumPlusOneCommand(QUORUM_WAIT_SECONDS), {
        timeoutMs: (QUORUM_WAIT_SECONDS + 30) * 1000,
      });
    } catch (thrown) {
      if (isWarrenError(thrown) && (thrown.code === 'command.failed' || thrown.code === 'command.timeout'))
        throw stuck(thrown);
      throw thrown;
    }
    return;
  }
  if (!caps.quorumCriticalCheck) return;
  const end = Date.now() + QUORUM_WAIT_SECONDS * 1000;
  for (;;) {
    const verdict = await readQuorumVerdict(ctx.shells, host, undefined, { timeoutMs: 60_000 });
    if (verdict !== 'not-asked' && (verdict === 'unsupported' || !verdict.critical)) return;
    if (Date.now() >= end) throw stuck();
    await pauseUnlessCancelled(ctx.signal, POLL_MS, `the quorum wait on ${host.name}`);
  }
}

/** 4.x: polls until no new replica on the node is still catching up. */
async function pollUntilPasses(ctx: StepContext, host: Host, order: readonly Host[]): Promise<void> {
  const shell = await ctx.shells.shell(host.name);
  const end = Date.now() + QUORUM_WAIT_SECONDS * 1000;
  for (;;) {
    const result = await shell.run(initialSyncCheckCommand(), { okExitCodes: [69, 70, 1], timeoutMs: 60_000 });
    if (result.code === 0) return;
    if (Date.now() >= end)
      throw new WarrenError(
        'restart.quorum_wait',
        `${host.name}: its quorum queue replicas did not catch up within ${QUORUM_WAIT_SECONDS} s after its ` +
          `restart; the roll stopped there`,
        {
          host: host.name,
          hint:
            `${doneBefore(ctx, host, order)} Watch the replicas catch up ` +
            '(rabbitmq-queues quorum_status), then run cluster restart again.',
        },
      );
    await pauseUnlessCancelled(ctx.signal, POLL_MS, `the catch-up wait on ${host.name}`);
  }
}

/** "lab2 restarted; lab3, lab1 not touched and still serving." for the operator. */
function doneBefore(ctx: StepContext, host: Host, order: readonly Host[]): string {
  const marks = marksOf(ctx).nodes;
  const done = order.filter((h) => marks[h.name]?.phase === 'done').map((h) => h.name);
  const after = order.slice(order.indexOf(host) + 1).map((h) => h.name);
  return (
    `${done.length ? `${done.join(', ')} restarted already; ` : 'No node was restarted before it; '}` +
    `${after.length ? `${after.join(', ')} not touched and still serving.` : 'it was the last node.'}`
  );
}

function rollStopped(
  ctx: StepContext,
  host: Host,
  order: readonly Host[],
  why: string,
  cause?: WarrenError,
): WarrenError {
  return new WarrenError('restart.node_down', `${host.name}: ${why}; the rolling restart stopped there`, {
    host: host.name,
    ...(cause?.evidence ? { evidence: cause.evidence } : {}),
    hint:
      `${doneBefore(ctx, host, order)} Look at /var/log/rabbitmq on ${host.name} (startup_err, the node's log), ` +
      `fix the cause and start it (service rabbitmq-server start; warren status ${ctx.cluster.cluster.name} shows ` +
      `it back), then run cluster restart ${ctx.cluster.cluster.name} again for a full roll.`,
    ...(cause ? { cause } : {}),
  });
}

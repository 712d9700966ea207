import { nodeNameOf } from '../config/load.js';
import type { Host } from '../config/schema.js';
import { WarrenError, toWarrenError } from '../errors.js';
import { pauseUnlessCancelled } from '../ssh/cancellation.js';
import type { ClusterStatus } from '../rabbit/cluster-status.js';
import {
  judgeCommit,
  metadataStoreOfStatus,
  metadataStoreStatusCommand,
  parseMetadataStoreStatus,
} from '../rabbit/metadata-store.js';
import type { MetadataStore } from '../rabbit/metadata-store.js';
import { membersOf, readNodeStatus } from '../rabbit/queries.js';
import type { PlannedCommand, StepContext } from './step.js';

/** How long a membership change may take to be committed by a majority before the step gives up (retryably). */
export const CONFIRM_DEADLINE_MS = 60_000;
const CONFIRM_INTERVAL_MS = 1_000;

export interface ConfirmRequest {
  /** The node names the cluster must have after the change, exactly. */
  expected: readonly string[];
  /** Hosts to read from, in order (any one that sees a majority confirms). */
  from: readonly Host[];
  /** The store, when the caller already read it; undefined: read it from the first node that answers. */
  store?: MetadataStore;
  /** What changed, for the error: e.g. "lab3 leaving c1". */
  what: string;
  /** A cluster_status the caller has just read on one of `from`: used for the first round instead of asking again. */
  seen?: { host: Host; status: ClusterStatus };
}

/**
 * Under Khepri exit codes lie in a minority (4.3.6, 2 of 3 VMs down: forget_cluster_node exits 0
 * uncommitted, a join exits 0 and commits later), so a membership change counts as done only once
 * one node's cluster_status lists exactly the expected members and its metadata_store_status shows
 * a majority of them answering with nothing uncommitted. Polls until the deadline, then fails
 * retryably with the last evidence: never "done" on an exit code alone. Mnesia: nothing to do.
 */
export async function confirmMembership(
  ctx: StepContext,
  request: ConfirmRequest,
  deadlineMs = CONFIRM_DEADLINE_MS,
): Promise<void> {
  if (request.store === 'mnesia' || request.expected.length === 0) return;
  const deadline = Date.now() + deadlineMs;
  let reason = 'no node answered';
  let evidence: { host: string; stdout: string } | undefined;
  let seen = request.seen;
  for (;;) {
    for (const host of request.from) {
      const fresh = seen?.host.name === host.name ? seen.status : undefined;
      const status =
        fresh ?? (await readNodeStatus(ctx.shells, host).catch((thrown: unknown) => toWarrenError(thrown).code));
      if (typeof status === 'string') continue;
      if ((request.store ?? metadataStoreOfStatus(status)) === 'mnesia') return;
      const shell = await ctx.shells.shell(host.name);
      const result = await shell.run(metadataStoreStatusCommand(), { timeoutMs: 90_000, okExitCodes: [64, 69] });
      if (result.code !== 0) {
        reason = `${host.name} could not read its metadata store (exit ${result.code})`;
        continue;
      }
      const verdict = judgeCommit(
        parseMetadataStoreStatus(result.stdout, host.name),
        membersOf(status),
        request.expected,
      );
      if (verdict.confirmed) return;
      reason = `${host.name}: ${verdict.reason}`;
      evidence = { host: host.name, stdout: ctx.shells.redactor.redact(result.stdout).slice(0, 4000) };
    }
    seen = undefined;
    if (Date.now() >= deadline) break;
    await pauseUnlessCancelled(ctx.signal, CONFIRM_INTERVAL_MS, `confirming ${request.what}`);
  }
  throw new WarrenError(
    'membership.unconfirmed',
    `${request.what} is not confirmed by a majority of ` +
      `${ctx.cluster.cluster.name}'s metadata store after ` +
      `${Math.round(deadlineMs / 1000)} s: ${reason}`,
    {
      retryable: true,
      ...(evidence
        ? {
            host: evidence.host,
            evidence: {
              host: evidence.host,
              command: metadataStoreStatusCommand().text,
              exitCode: 0,
              stderr: '',
              stdout: evidence.stdout,
            },
          }
        : {}),
      hint:
        `Start the stopped nodes of ${ctx.cluster.cluster.name} until more ` +
        `than half of them run (warren status ${ctx.cluster.cluster.name}); ` +
        `the job retries and the change is confirmed once a majority commits ` +
        `it.`,
    },
  );
}

/** The first member other than `target` whose app runs (seed first), with its view of the cluster. */
export async function runningPeer(ctx: StepContext, target: Host): Promise<{ host: Host; status: ClusterStatus }> {
  for (const host of [ctx.cluster.seed, ...ctx.cluster.joiners]) {
    if (host.name === target.name) continue;
    const status = await readNodeStatus(ctx.shells, host).catch(() => 'unreachable' as const);
    if (typeof status !== 'string') return { host, status };
  }
  throw new WarrenError(
    'status.unreachable',
    `no other member of ${ctx.cluster.cluster.name} runs besides ${target.name}`,
    {
      retryable: true,
      hint: `Start RabbitMQ on another node of ${ctx.cluster.cluster.name} and run the operation again.`,
    },
  );
}

/** The hosts of the cluster whose node names are in `nodes`. */
export function hostsAmong(ctx: Pick<StepContext, 'cluster'>, nodes: readonly string[]): Host[] {
  return ctx.cluster.hosts.filter((h) => nodes.includes(nodeNameOf(h)));
}

/** What a confirmation may run, for dry runs: on the first node left that answers, under Khepri only. */
export function planConfirmation(step: string, host: string | undefined): PlannedCommand[] {
  return host
    ? [
        {
          step,
          host,
          command: metadataStoreStatusCommand().text,
          when: 'the cluster uses Khepri: until a majority confirms the new members (with its cluster_status)',
        },
      ]
    : [];
}

/** The expected members after `node` leaves a cluster whose members were `before`. */
export function withoutNode(before: readonly string[], host: Host): string[] {
  const node = nodeNameOf(host);
  return before.filter((n) => n !== node);
}

import { nodeNameOf } from '../config/load.js';
import type { Host } from '../config/schema.js';
import { WarrenError, isWarrenError } from '../errors.js';
import { NOT_A_CLUSTER_NODE, clusterStatusCommand, forgetClusterNodeCommand } from '../rabbit/commands.js';
import type { MetadataStore } from '../rabbit/metadata-store.js';
import { metadataStoreOfStatus } from '../rabbit/metadata-store.js';
import { membersOf } from '../rabbit/queries.js';
import { confirmMembership, hostsAmong, planConfirmation, runningPeer, withoutNode } from './confirm-membership.js';
import { targetOf } from './reset-node.js';
import { timedOnHost } from './step.js';
import type { Step } from './step.js';

/**
 * The peer that forgets the node, what it listed, and its store; `forget` false: only the confirmation is left
 * (Khepri).
 */
interface PendingForget {
  peer: Host;
  before: string[];
  store: MetadataStore;
  forget: boolean;
}

/**
 * node.remove: a running peer forgets the node (forget_cluster_node). Skipped when the peer's
 * cluster_status no longer lists it; "not_a_cluster_node" (exit 69 on 3.10.8, when a previous
 * attempt got there first) is success, any other failure is forget.failed. Under Khepri the
 * forget counts as done only once a majority confirms it (4.3.6 in a minority: exit 0,
 * uncommitted, or an error that may still be applied later), and a peer that no longer lists the
 * node is no proof either: only the confirmation is left then.
 */
export const forgetNode: Step<PendingForget> = {
  id: 'rabbit:forget-node',
  title: 'Forget the node on a running peer',
  skippedDetail: 'the survivors no longer list the node',

  plan(cluster, target) {
    if (!target) return [];
    const peer = cluster.seed.name === target.name ? cluster.joiners[0] : cluster.seed;
    if (!peer) return [];
    return [
      {
        step: this.id,
        host: peer.name,
        command: clusterStatusCommand().text,
        when: 'first running member other than the node (seed first)',
      },
      {
        step: this.id,
        host: peer.name,
        command: forgetClusterNodeCommand(nodeNameOf(target)).text,
        when: `the peer still lists ${nodeNameOf(target)}`,
      },
      ...planConfirmation(this.id, peer.name),
    ];
  },

  async check(ctx) {
    const target = targetOf(ctx);
    const { host, status } = await runningPeer(ctx, target);
    const members = membersOf(status);
    const store = metadataStoreOfStatus(status);
    if (members.includes(nodeNameOf(target))) return [{ peer: host, before: members, store, forget: true }];
    return store === 'khepri' ? [{ peer: host, before: members, store, forget: false }] : [];
  },

  async run(ctx, [pending]) {
    const target = targetOf(ctx);
    const node = nodeNameOf(target);
    if (!pending) return { detail: 'nothing to forget' };
    const { peer, before, store } = pending;
    const expected = withoutNode(before, target);
    const confirm = () =>
      confirmMembership(ctx, { expected, from: hostsAmong(ctx, expected), store, what: `${node} forgotten` });
    if (!pending.forget) {
      await timedOnHost(ctx, peer.name, confirm, () => `${node} gone: confirmed by a majority`);
      return { detail: `${node} forgotten: confirmed by a majority` };
    }
    await timedOnHost(
      ctx,
      peer.name,
      async () => {
        const shell = await ctx.shells.shell(peer.name);
        let failure: { error: WarrenError; stderr: string } | undefined;
        try {
          const result = await shell.run(forgetClusterNodeCommand(node), { timeoutMs: 120_000, okExitCodes: [69] });
          if (result.code === 69 && !NOT_A_CLUSTER_NODE.test(result.stderr)) {
            const error = new WarrenError('forget.failed', `${peer.name} could not forget ${node}`, {
              retryable: true,
              evidence: {
                host: peer.name,
                command: forgetClusterNodeCommand(node).text,
                exitCode: 69,
                stderr: ctx.shells.redactor.redact(result.stderr).slice(-4000),
              },
              hint: /must be stopped/.test(result.stderr)
                ? `${node}'s app runs again: stop it (rabbitmqctl stop_app on ${target.name}) and run the remove again.`
                : `Check that ${peer.name} runs and reaches ${target.name}'s peers; the job retries.`,
            });
            failure = { error, stderr: result.stderr };
          }
        } catch (error) {
          if (!isWarrenError(error) || error.code !== 'command.failed') throw error;
          const failed = new WarrenError('forget.failed', `${peer.name} could not forget ${node}`, {
            retryable: error.retryable,
            ...(error.evidence ? { evidence: error.evidence } : {}),
            hint: `Run rabbitmqctl forget_cluster_node ${node} on ${peer.name} by hand to see why.`,
          });
          failure = { error: failed, stderr: error.evidence?.stderr ?? '' };
        }
        // Khepri in a minority answers a forget either way: exit 0 uncommitted, or an error (seen in CI on
        // 4.3.6 after ~60 s), and a write that failed can still be applied later. So under Khepri a failure
        // decides nothing unless the node refused outright (its app runs): only a majority's confirmation
        // says whether the node is gone (membership.unconfirmed while it cannot).
        if (failure && (store !== 'khepri' || /must be stopped/.test(failure.stderr))) throw failure.error;
        await confirm();
      },
      () => `forgot ${node}`,
    );
    return { detail: `${peer.name} forgot ${node}` };
  },
};

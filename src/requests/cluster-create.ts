import type { JobData, JobOrigin } from '../operations/schema.js';
import type { PlannedCommand } from '../steps/step.js';
import type { RequestPorts } from './ports.js';

/** A create as asked: the cluster, whether joins may wipe, and where its progress goes (a card, a terminal). */
export interface ClusterCreateRequest {
  cluster: string;
  allowWipe: boolean;
  /**
   * A Slack origin names the card already posted: the job's thread hangs from it, and a bot that dies after the add
   * finds it there.
   */
  origin: JobOrigin;
  requestedAt: string;
}

export type ClusterCreateResult = { kind: 'queued'; jobId: string; data: JobData } | { kind: 'busy'; jobId: string };

/**
 * Queues a create. Whether the cluster is busy is the enqueue's answer alone (one operation per
 * cluster, decided atomically by the queue): nothing is checked before it, so nothing can change
 * between a check and the add.
 */
export async function requestClusterCreate(
  ports: Pick<RequestPorts, 'enqueue'>,
  request: ClusterCreateRequest,
): Promise<ClusterCreateResult> {
  const queued = await ports.enqueue({
    operation: 'cluster.create',
    cluster: request.cluster,
    options: { allowWipe: request.allowWipe },
    origin: request.origin,
    requestedAt: request.requestedAt,
  });
  return queued.status === 'busy'
    ? { kind: 'busy', jobId: queued.jobId }
    : { kind: 'queued', jobId: queued.jobId, data: queued.data };
}

/** The dry run of a create: every command each host could get; nothing is queued or audited. */
export async function planClusterCreate(ports: Pick<RequestPorts, 'plan'>, cluster: string): Promise<PlannedCommand[]> {
  return ports.plan('cluster.create', cluster);
}

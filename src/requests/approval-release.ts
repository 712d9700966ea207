import type { Approval } from '../approvals/schema.js';
import type { EnqueueResult } from '../queue/enqueue.js';
import { jobOptionsFor } from './destructive.js';
import type { RequestPorts } from './ports.js';

/**
 * The job an approval releases, named after it: releasing the same approval again (after a crash,
 * or a recovery racing the click) finds that job instead of queueing a second one. Approval ids
 * are UUIDs, so this is no integer, has no ':' (BullMQ refuses both) and fits audit entries' 64.
 */
export function approvalJobId(approvalId: string): string {
  return `approval-${approvalId}`;
}

/**
 * Queues an approved request under its own job id: the approval is its authorization, the
 * approval card its card. The enqueue alone says whether the cluster is busy now. Invalid job
 * data throws a ZodError (retrying cannot help: the caller ends the approval unrun).
 */
export async function releaseApprovedRequest(
  ports: Pick<RequestPorts, 'enqueue'>,
  approval: Approval,
  approvedBy: string,
): Promise<EnqueueResult> {
  return ports.enqueue(
    {
      operation: approval.operation,
      cluster: approval.cluster,
      ...(approval.node ? { node: approval.node } : {}),
      options: jobOptionsFor(approval.operation, approval),
      origin: { kind: 'slack', user: approval.requester, channel: approval.channel, cardTs: approval.cardTs },
      authorization: { kind: 'approval', approvalId: approval.id, approvedBy },
      requestedAt: new Date(approval.createdAt).toISOString(),
    },
    { jobId: approvalJobId(approval.id) },
  );
}

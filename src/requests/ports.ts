import type { AuditEntry } from '../audit/schema.js';
import type { GateReport, GateRequest } from '../gates/schema.js';
import type { EnqueueResult } from '../queue/enqueue.js';
import type { JobRequest, OperationName } from '../operations/schema.js';
import type { PlannedCommand } from '../steps/step.js';

/**
 * What the request layer needs from below, bound by each front end to its own connections (and to
 * the cluster's membership state): tests pass recording fakes.
 */
export interface RequestPorts {
  /** The dry run's commands per host (src/plan.ts); throws node.unknown for a node it cannot act on. */
  plan: (operation: OperationName, cluster: string, node?: string) => Promise<PlannedCommand[]>;
  /** The safety gates read over SSH (src/gates/check.ts), without `cluster.busy`: that is the queue's. */
  checkGates: (request: GateRequest) => Promise<GateReport>;
  /** The one busy verdict: the enqueue's (src/queue/enqueue.ts). */
  enqueue: (request: JobRequest, options?: { jobId?: string }) => Promise<EnqueueResult>;
  /** The job holding the cluster now, for what a request shows or asks before anything is queued. */
  runningOperation: (cluster: string) => Promise<string | undefined>;
  appendAudit: (entry: AuditEntry) => Promise<void>;
  /** The clock audit entries and requests are stamped with (tests move it). */
  now: () => number;
}

/** Who asks, as the audit and the job's origin name them. */
export type Requester = { via: 'cli'; user: string } | { via: 'slack'; user: string };

/** How the audit names a requester: the Slack user id, or `cli:<unix user>`. */
export function actorOf(requester: Requester): { actor: string; via: AuditEntry['via'] } {
  return requester.via === 'cli'
    ? { actor: `cli:${requester.user}`, via: 'cli' }
    : { actor: requester.user, via: 'slack' };
}

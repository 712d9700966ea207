import type { AuditEntry } from './schema.js';
import type { OperationName } from '../operations/schema.js';

/** The longest `detail` the audit keeps; longer reasons are cut here, once. */
const DETAIL_LIMIT = 500;

/** What an audit entry is about: an operation on a cluster (and its node), maybe an approval or a job. */
export interface AuditSubject {
  operation: OperationName;
  cluster: string;
  node?: string | undefined;
  approvalId?: string | undefined;
  jobId?: string | undefined;
}

/**
 * The one place audit entries are built: the request layer, the approval flow and the worker call
 * it, so an entry names its actor, channel and subject the same way whoever writes it.
 * `actor` is a Slack user id, `cli:<unix user>`, or `warren` for what nobody clicked.
 */
export function buildAuditEntry(
  subject: AuditSubject,
  event: AuditEntry['event'],
  who: { actor: string; via: AuditEntry['via'] },
  options: { atMs: number; detail?: string },
): AuditEntry {
  return {
    at: new Date(options.atMs).toISOString(),
    event,
    operation: subject.operation,
    cluster: subject.cluster,
    ...(subject.node ? { node: subject.node } : {}),
    actor: who.actor,
    via: who.via,
    ...(subject.approvalId ? { approvalId: subject.approvalId } : {}),
    ...(subject.jobId ? { jobId: subject.jobId } : {}),
    ...(options.detail === undefined ? {} : { detail: options.detail.slice(0, DETAIL_LIMIT) }),
  };
}

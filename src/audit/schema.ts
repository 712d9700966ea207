import { z } from 'zod';
import { SafeName } from '../config/schema.js';
import { OperationName } from '../operations/schema.js';

/**
 * What happened, in the audit's words. requested/approved/denied/expired come from the approval
 * flow; refused is any gate, role or busy refusal; started/completed/failed are the job's result.
 */
export const AuditEvent = z.enum([
  'requested',
  'approved',
  'denied',
  'expired',
  'refused',
  'started',
  'completed',
  'failed',
]);
export type AuditEvent = z.infer<typeof AuditEvent>;

/** One line of the audit log: who, what, when, and how it ended. Never a secret. */
export const AuditEntry = z
  .object({
    at: z.string().datetime(),
    event: AuditEvent,
    operation: OperationName,
    cluster: SafeName,
    node: SafeName.optional(),
    /** A Slack user id, or `cli:<unix user>` for the CLI. */
    actor: z.string().min(1).max(80),
    via: z.enum(['slack', 'cli', 'worker']),
    approvalId: z.string().max(64).optional(),
    jobId: z.string().max(64).optional(),
    /** One line for people: the refusal's reason, the error code, "--yes: chat approval bypassed"… */
    detail: z.string().max(500).optional(),
  })
  .strict();
export type AuditEntry = z.infer<typeof AuditEntry>;

/** An entry as read back, with the stream id that orders it. */
export interface StoredAuditEntry {
  id: string;
  entry: AuditEntry;
}

import { z } from 'zod';
import { SafeName } from '../config/schema.js';
import { DESTRUCTIVE_OPERATIONS } from '../gates/schema.js';
import { MAX_DELETE_QUEUES, ShownQueue } from '../rabbit/quorum-migration.js';

/** Where an approval stands; only `pending` may change, and only once. */
export const ApprovalState = z.enum(['pending', 'approved', 'denied', 'expired']);
export type ApprovalState = z.infer<typeof ApprovalState>;

/** What an approver may answer. */
export type ApprovalDecision = 'approved' | 'denied';

/** Approval ids are ours (UUIDs), but they come back in button values: anything else is refused. */
export const ApprovalId = z.string().regex(/^[a-f0-9-]{8,64}$/, 'an approval id');

const UserId = z.string().regex(/^[UW][A-Z0-9]+$/);
/** Redis keeps strings: times are epoch milliseconds, compared as numbers by the Lua script. */
const EpochMs = z.coerce.number().int().nonnegative();

/** A Block Kit message as saved with the approval, to redraw the card without its buttons later. */
const SavedCard = z.object({ text: z.string(), blocks: z.array(z.record(z.string(), z.unknown())) });

/** One request for a destructive operation, as it lives in Redis (validated on the way out). */
export const Approval = z.object({
  id: ApprovalId,
  operation: z.enum(DESTRUCTIVE_OPERATIONS),
  cluster: SafeName,
  node: SafeName.optional(),
  requester: UserId,
  channel: z.string().regex(/^[CDG][A-Z0-9]+$/),
  /** The approval card's ts: once approved, the job's card and thread. */
  cardTs: z.string().regex(/^\d+\.\d+$/),
  teamDomain: z.string().optional(),
  createdAt: EpochMs,
  expiresAt: EpochMs,
  /** The timeout it was given, for the card's "nobody decided within N min". */
  timeoutMinutes: z.coerce.number().int().positive(),
  state: ApprovalState,
  decidedBy: UserId.optional(),
  decidedAt: EpochMs.optional(),
  jobId: z.string().max(64).optional(),
  /** The job that ran under this approval (set by the worker, once: see ApprovalStore.use). */
  usedBy: z.string().max(64).optional(),
  /** The card as posted, minus its buttons: what stays once the buttons give way to the outcome. */
  card: z
    .string()
    .transform((raw, ctx) => {
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'card is not JSON' });
        return z.NEVER;
      }
    })
    .pipe(SavedCard),
  /** delete-classic-queues: the queues the card showed, the only ones the released job may delete (JSON). */
  classicQueues: z
    .string()
    .transform((raw, ctx) => {
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'classicQueues is not JSON' });
        return z.NEVER;
      }
    })
    .pipe(z.array(ShownQueue).max(MAX_DELETE_QUEUES))
    .optional(),
});
export type Approval = z.infer<typeof Approval>;

/** What the requester's side knows when it saves a new approval. */
export type NewApproval = Omit<
  Approval,
  'state' | 'decidedBy' | 'decidedAt' | 'jobId' | 'usedBy' | 'card' | 'classicQueues'
> & {
  card: { text: string; blocks: object[] };
  classicQueues?: ShownQueue[];
};

/**
 * The outcome of one attempt to change an approval:
 * - `won`: this call moved it from pending to the decision (exactly one caller ever gets this);
 * - `expired`: it was past its time, and this call marked it expired (also exactly once);
 * - `not_due`: an expiry attempt on an approval still within its time (nothing changed);
 * - `already`: it was decided or expired before (nothing changed);
 * - `missing`: no such approval (never existed, or long gone).
 */
export type TransitionOutcome = 'won' | 'expired' | 'not_due' | 'already' | 'missing';

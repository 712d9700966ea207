import { z } from 'zod';
import { MigrationPlan, ShownQueue } from '../rabbit/quorum-migration.js';
import type { WarrenConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { MembershipOverrides } from '../state/membership.js';

/**
 * Operations that destroy data (a reset wipes a node; a join wipes the joining node): from Slack
 * they run only after a second person approves; from the CLI only with --yes. All are audited.
 * The gates below judge exactly these, so the list is theirs; the operations' names build on it.
 */
export const DESTRUCTIVE_OPERATIONS = [
  'node.reset',
  'node.remove',
  'node.add',
  'cluster.teardown',
  'cluster.migrate-to-quorum',
  'cluster.delete-classic-queues',
  // not destructive, but irreversible (a flag cannot be disabled again): approved the same way
  'feature-flags.enable',
  // Destroys nothing, but takes every node down in turn: approved like the others (or, where the
  // cluster's config says `approval: operator`, run by an operator directly).
  'cluster.restart',
] as const;
export type DestructiveOperation = (typeof DESTRUCTIVE_OPERATIONS)[number];

/** The safety gates a destructive operation must pass, each by a stable id. */
export const GateId = z.enum([
  'cluster.busy',
  'node.last_running_disk',
  'cluster.minority',
  'node.quorum_critical',
  'node.reachable',
  'join.wipes_data',
  /** migrate-to-quorum: the version can make quorum the vhosts' default queue type (3.10 and later). */
  'migration.supported',
  /** delete-classic-queues: classic queues without consumers to delete (one with consumers is left out). */
  'queues.deletable',
  'flags.to_enable',
  'cluster.healthy',
]);
export type GateId = z.infer<typeof GateId>;

/** One gate's verdict: passed, or refused with why and what would make it possible. */
export const GateCheck = z.object({
  id: GateId,
  ok: z.boolean(),
  /** One line, e.g. "2 of 3 nodes stay running" or "rabbit@lab1 is the last running disk node". */
  detail: z.string(),
  /** What would make the operation possible; set when ok is false. */
  remedy: z.string().optional(),
});
export type GateCheck = z.infer<typeof GateCheck>;

/**
 * What the gates found for one request: shown on the approval card, checked again by the job's
 * first step (its output). `allowed` is false when any check failed. `wipes` says what the
 * operation destroys beyond the node's membership (e.g. "lab4 holds 3 queues"), for the card.
 */
export const GateReport = z.object({
  operation: z.enum(DESTRUCTIVE_OPERATIONS),
  cluster: z.string(),
  node: z.string().optional(),
  allowed: z.boolean(),
  checks: z.array(GateCheck),
  /** The node the cluster's state was read from. */
  readFrom: z.string().optional(),
  wipes: z.array(z.string()).optional(),
  /** migrate-to-quorum and delete-classic-queues: the migration plan as read (policies, vhosts, classic queues). */
  migration: MigrationPlan.optional(),
  /** delete-classic-queues: exactly the queues the request shows, and the job may delete. */
  classicQueues: z.array(ShownQueue).optional(),
});
export type GateReport = z.infer<typeof GateReport>;

export interface GateRequest {
  operation: DestructiveOperation;
  cluster: string;
  node?: string;
}

/**
 * Reads the cluster over SSH (read-only) and judges a request; the bot and the CLI call it before
 * asking, the job's gate step judges again before running. 'cluster.busy' is not checked here
 * (that is the queue's to say) — callers add it.
 */
export type CheckSafetyGates = (
  config: WarrenConfig,
  request: GateRequest,
  options?: { logger?: Logger; membership?: MembershipOverrides },
) => Promise<GateReport>;

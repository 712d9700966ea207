import { z } from 'zod';
import { WarrenError } from '../errors.js';
import { sh } from '../ssh/quote.js';
import type { ShellCommand } from '../ssh/quote.js';
import type { ClusterStatus } from './cluster-status.js';
import { FeatureFlags, metadataStoreOf } from './feature-flags.js';
import type { MetadataStore } from './feature-flags.js';

export type { MetadataStore } from './feature-flags.js';

/**
 * The store a node uses, from the feature flags its cluster_status JSON lists (real outputs:
 * khepri_db "disabled" on a fresh 4.0.5, "enabled" on 4.3.6 and on 4.0.5 after
 * `enable_feature_flag --opt-in khepri_db`; no such flag before 4.0).
 */
export function metadataStoreOfStatus(status: ClusterStatus): MetadataStore {
  const flags = FeatureFlags.safeParse((status as Record<string, unknown>).feature_flags);
  return flags.success ? metadataStoreOf(flags.data) : 'mnesia';
}

/**
 * The Raft view of the metadata store from one node. Measured on 4.3.6: one row per member that
 * answers (a member that is down is not listed at all), with the node's own indexes; in a
 * minority the lone node still calls itself leader, and an uncommitted change shows as a commit
 * index behind the last log index (449 vs 503 after a forget with 2 of 3 VMs down).
 */
export function metadataStoreStatusCommand(): ShellCommand {
  return sh`rabbitmq-diagnostics -q metadata_store_status --formatter json </dev/null`.named(
    'rabbitmq-diagnostics metadata_store_status',
  );
}

const RaftMember = z
  .object({
    'Node Name': z.string(),
    'Raft State': z.string(),
    Membership: z.string().optional(),
    'Last Log Index': z.number(),
    'Commit Index': z.number(),
  })
  .loose();
const MetadataStoreStatus = z.array(RaftMember).max(1000);
export type RaftMember = z.infer<typeof RaftMember>;

/** Bounds what is parsed from a host: a metadata store of a few nodes prints a few hundred bytes. */
const MAX_STATUS_CHARS = 1_000_000;

export function parseMetadataStoreStatus(stdout: string, host: string): RaftMember[] {
  if (stdout.length > MAX_STATUS_CHARS)
    throw new WarrenError(
      'status.unparseable',
      `metadata_store_status on ${host} printed ${stdout.length} characters: more than a cluster's worth`,
      { host },
    );
  let raw: unknown;
  try {
    raw = JSON.parse(stdout);
  } catch {
    throw new WarrenError(
      'status.unparseable',
      `metadata_store_status on ${host} did not print JSON: ${stdout.slice(0, 200)}`,
      { host },
    );
  }
  const parsed = MetadataStoreStatus.safeParse(raw);
  if (!parsed.success)
    throw new WarrenError(
      'status.unparseable',
      `metadata_store_status on ${host} has an unexpected shape: ` +
        `${parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}`,
      { host },
    );
  return parsed.data;
}

/** Whether a membership change is committed by a majority of the members it should leave, and if not, why. */
export type CommitVerdict = { confirmed: true } | { confirmed: false; reason: string };

/**
 * Judges a membership from one node's Raft view and its cluster_status members: confirmed when
 * the members are exactly `expected`, one leader answers with nothing left uncommitted, no node
 * outside `expected` is still a Raft member, and more than half of `expected` answer as voters.
 * Exit codes cannot say this under Khepri (a forget exits 0 without being committed).
 */
export function judgeCommit(
  rows: readonly RaftMember[],
  members: readonly string[],
  expected: readonly string[],
): CommitVerdict {
  const want = new Set(expected);
  const missing = expected.filter((n) => !members.includes(n));
  const extra = members.filter((n) => !want.has(n));
  if (missing.length > 0 || extra.length > 0) {
    return {
      confirmed: false,
      reason:
        `the cluster lists ${members.join(', ') || 'no node'}` +
        `${missing.length ? `; missing ${missing.join(', ')}` : ''}` +
        `${extra.length ? `; still listed: ${extra.join(', ')}` : ''}`,
    };
  }
  const leaders = rows.filter((r) => r['Raft State'] === 'leader');
  if (leaders.length !== 1) return { confirmed: false, reason: `${leaders.length} metadata store leaders answer` };
  const [leader] = leaders;
  if (leader['Commit Index'] < leader['Last Log Index']) {
    return {
      confirmed: false,
      reason:
        `${leader['Last Log Index'] - leader['Commit Index']} metadata ` +
        `change(s) not committed on the leader ${leader['Node Name']} (commit ` +
        `index ${leader['Commit Index']}, last log index ` +
        `${leader['Last Log Index']})`,
    };
  }
  const strangers = rows.filter((r) => !want.has(r['Node Name'])).map((r) => r['Node Name']);
  if (strangers.length > 0)
    return { confirmed: false, reason: `${strangers.join(', ')} still answer as metadata store members` };
  const voters = rows.filter(
    (r) =>
      want.has(r['Node Name']) &&
      (r.Membership ?? 'voter') === 'voter' &&
      (r['Raft State'] === 'leader' || r['Raft State'] === 'follower'),
  );
  if (voters.length * 2 <= expected.length) {
    return {
      confirmed: false,
      reason:
        `only ${voters.length} of ${expected.length} members answer in the ` +
        `metadata store (` +
        `${voters.map((v) => v['Node Name']).join(', ') || 'none'}): not a ` +
        `majority`,
    };
  }
  return { confirmed: true };
}

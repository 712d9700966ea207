import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AuditEntry } from '../audit/schema.js';
import { AUDIT_MAX_ENTRIES, auditKey } from '../audit/store.js';
import { durableWrite } from '../queue/redis.js';
import { Approval } from './schema.js';
import type { ApprovalDecision, NewApproval, TransitionOutcome } from './schema.js';

/** A decided approval stays readable this long (cards, audit cross-references), then Redis drops it. */
const KEEP_AFTER_EXPIRY_MS = 30 * 24 * 3600 * 1000;

/**
 * The one place an approval changes state, atomically: two approvers clicking at once, a double
 * click, or a click racing the sweeper all reach this script, and Redis runs one at a time, so
 * only one caller sees pending and moves it on. Time is the caller's (ARGV[4]) so tests can set it.
 * The winner's audit entry and, for an approval, its place in the releasing set are written in
 * the same step: a bot that dies right after winning leaves an audited approval that the sweeper
 * releases, never an approval nobody knows still has to run.
 *
 * KEYS[1] the approval's hash, KEYS[2] the pending set (scored by expiry), KEYS[3] the releasing
 * set, KEYS[4] the audit stream
 * ARGV[1] approval id, ARGV[2] 'approved' | 'denied' | 'expire', ARGV[3] who decides, ARGV[4] now (ms),
 * ARGV[5] the winner's audit entry as the stream stores it ('' for none), ARGV[6] the audit's length cap
 */
const TRANSITION_SCRIPT = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 'missing'
end
if state ~= 'pending' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 'already'
end
local now = tonumber(ARGV[4])
if now >= tonumber(redis.call('HGET', KEYS[1], 'expiresAt')) then
  redis.call('HSET', KEYS[1], 'state', 'expired', 'decidedAt', ARGV[4])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 'expired'
end
if ARGV[2] == 'expire' then
  return 'not_due'
end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'decidedBy', ARGV[3], 'decidedAt', ARGV[4])
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] == 'approved' then
  redis.call('SADD', KEYS[3], ARGV[1])
end
if ARGV[5] ~= '' then
  redis.call('XADD', KEYS[4], 'MAXLEN', ARGV[6], '*', 'entry', ARGV[5])
end
return 'won'
`;

/**
 * Ends a release: only the caller that takes the id out of the releasing set writes the outcome's
 * audit entry, so a release repeated by a recovery (or racing one) audits it once.
 *
 * KEYS[1] the releasing set, KEYS[2] the audit stream
 * ARGV[1] approval id, ARGV[2] audit entry ('' for none), ARGV[3] the audit's length cap
 */
const FINISH_RELEASE_SCRIPT = `
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then
  return 0
end
if ARGV[2] ~= '' then
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], '*', 'entry', ARGV[2])
end
return 1
`;

/**
 * Lets one job use an approved approval, atomically: the record must exist, be approved, name the
 * same operation, cluster, node, approver and requester as the job, and be unused or used by this
 * same job (its retries and a takeover by another worker run under it again). Returns 'ok' or why not.
 *
 * KEYS[1] the approval's hash
 * ARGV[1] operation, ARGV[2] cluster, ARGV[3] node ('' for none), ARGV[4] approver, ARGV[5] requester, ARGV[6] job id
 */
const USE_SCRIPT = `
local f = redis.call('HMGET', KEYS[1], 'state', 'operation', 'cluster', 'node', 'decidedBy', 'requester', 'usedBy')
if not f[1] then return 'no such approval' end
if f[1] ~= 'approved' then return 'the approval is ' .. f[1] .. ', not approved' end
if f[2] ~= ARGV[1] then return 'approved for ' .. (f[2] or '(none)') .. ', not ' .. ARGV[1] end
if f[3] ~= ARGV[2] then return 'approved for cluster ' .. (f[3] or '(none)') .. ', not ' .. ARGV[2] end
if (f[4] or '') ~= ARGV[3] then
  return 'approved for node ' .. (f[4] or '(none)') .. ', not ' .. (ARGV[3] ~= '' and ARGV[3] or '(none)')
end
if f[5] ~= ARGV[4] then return 'approved by ' .. (f[5] or '(none)') .. ', not ' .. ARGV[4] end
if f[6] ~= ARGV[5] then return 'requested by ' .. (f[6] or '(none)') .. ', not ' .. ARGV[5] end
if f[7] and f[7] ~= ARGV[6] then return 'already used by job ' .. f[7] end
redis.call('HSET', KEYS[1], 'usedBy', ARGV[6])
return 'ok'
`;

/** What a job claims its approval allowed (the job's own fields). */
export interface ApprovalClaim {
  operation: string;
  cluster: string;
  node?: string | undefined;
  approvedBy: string;
  requester: string;
}

/** Deletes a release lock only if it is still ours: a lapsed lock may belong to the next releaser. */
const UNLOCK_SCRIPT =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

export type TransitionResult =
  { outcome: Exclude<TransitionOutcome, 'missing'>; approval: Approval } | { outcome: 'missing' };

/**
 * Approvals in Redis: a hash per approval (`<prefix>:approvals:<id>`), a sorted set of the
 * pending ones scored by expiry (`<prefix>:approvals:pending`), which the sweeper reads after a
 * restart as before it, and the set of approved ones whose job is not queued and carded yet
 * (`<prefix>:approvals:releasing`), which it releases. Nothing about an approval is kept in memory.
 */
export class ApprovalStore {
  private readonly base: string;
  private readonly auditKey: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.base = `${prefix}:approvals`;
    this.auditKey = auditKey(prefix);
  }

  private recordKey(id: string): string {
    return `${this.base}:${id}`;
  }

  private get pendingKey(): string {
    return `${this.base}:pending`;
  }

  private get releasingKey(): string {
    return `${this.base}:releasing`;
  }

  private lockKey(id: string): string {
    return `${this.base}:release-lock:${id}`;
  }

  /** Saves a new pending approval and lists it for expiry, in one step. */
  async create(approval: NewApproval): Promise<Approval> {
    const fields: Record<string, string> = {
      id: approval.id,
      operation: approval.operation,
      cluster: approval.cluster,
      requester: approval.requester,
      channel: approval.channel,
      cardTs: approval.cardTs,
      createdAt: String(approval.createdAt),
      expiresAt: String(approval.expiresAt),
      timeoutMinutes: String(approval.timeoutMinutes),
      state: 'pending',
      card: JSON.stringify(approval.card),
      ...(approval.node === undefined ? {} : { node: approval.node }),
      ...(approval.teamDomain === undefined ? {} : { teamDomain: approval.teamDomain }),
      ...(approval.classicQueues === undefined ? {} : { classicQueues: JSON.stringify(approval.classicQueues) }),
    };
    // Validate what we are about to write, exactly as it will be read back.
    const checked = Approval.parse(fields);
    const key = this.recordKey(approval.id);
    await this.redis
      .multi()
      .hset(key, fields)
      .pexpireat(key, approval.expiresAt + KEEP_AFTER_EXPIRY_MS)
      .zadd(this.pendingKey, approval.expiresAt, approval.id)
      .exec();
    return checked;
  }

  /** The approval, or undefined when it is unknown or unreadable. */
  async get(id: string): Promise<Approval | undefined> {
    const raw = await this.redis.hgetall(this.recordKey(id));
    if (Object.keys(raw).length === 0) return undefined;
    const parsed = Approval.safeParse(raw);
    return parsed.success ? parsed.data : undefined;
  }

  /**
   * Approves or denies, if still pending and within its time; past its time, marks it expired
   * instead. `audit` is appended in the same step if, and only if, this call wins; an approval
   * that wins is listed as releasing until `finishRelease`.
   */
  async decide(
    id: string,
    decision: ApprovalDecision,
    user: string,
    nowMs: number,
    audit?: AuditEntry,
  ): Promise<TransitionResult> {
    return this.transition(id, decision, user, nowMs, audit);
  }

  /** Marks a pending approval expired once its time is up; does nothing before that or once decided. */
  async expire(id: string, nowMs: number): Promise<TransitionResult> {
    return this.transition(id, 'expire', '', nowMs);
  }

  /** Pending approvals whose time is up at `nowMs`, soonest first. */
  async overdue(nowMs: number, limit = 100): Promise<string[]> {
    return this.redis.zrangebyscore(this.pendingKey, '-inf', nowMs, 'LIMIT', 0, limit);
  }

  /** Records the job an approval released. */
  async setJobId(id: string, jobId: string): Promise<void> {
    await this.redis.hset(this.recordKey(id), 'jobId', jobId);
  }

  /** Approved requests whose release has not finished: just won, or left half-way by a bot that died. */
  async releasing(): Promise<string[]> {
    return this.redis.smembers(this.releasingKey);
  }

  async isReleasing(id: string): Promise<boolean> {
    return (await this.redis.sismember(this.releasingKey, id)) === 1;
  }

  /**
   * Takes the approval's release for `ttlMs`, so a click and a recovery do not release it side by
   * side; returns the token to unlock with, or undefined while another releaser holds it.
   */
  async lockRelease(id: string, ttlMs: number): Promise<string | undefined> {
    const token = randomUUID();
    return (await this.redis.set(this.lockKey(id), token, 'PX', ttlMs, 'NX')) === 'OK' ? token : undefined;
  }

  async unlockRelease(id: string, token: string): Promise<void> {
    await this.redis.eval(UNLOCK_SCRIPT, 1, this.lockKey(id), token);
  }

  /**
   * Uses the approval for `jobId`, if it allowed exactly what the job claims and no other job used
   * it; the same job may use it again (a retry). `reason` says why not.
   */
  async use(id: string, claim: ApprovalClaim, jobId: string): Promise<{ ok: true } | { ok: false; reason: string }> {
    const answer = String(
      await this.redis.eval(
        USE_SCRIPT,
        1,
        this.recordKey(id),
        claim.operation,
        claim.cluster,
        claim.node ?? '',
        claim.approvedBy,
        claim.requester,
        jobId,
      ),
    );
    return answer === 'ok' ? { ok: true } : { ok: false, reason: answer };
  }

  /**
   * Takes the approval off the releasing set, appending `audit` in the same step; true for the one
   * call that took it off, false when it was off already (and nothing was audited).
   */
  async finishRelease(id: string, audit?: AuditEntry): Promise<boolean> {
    const finished = await durableWrite(this.redis, 'approval release', () =>
      this.redis.eval(
        FINISH_RELEASE_SCRIPT,
        2,
        this.releasingKey,
        this.auditKey,
        id,
        encodeAudit(audit),
        String(AUDIT_MAX_ENTRIES),
      ),
    );
    return finished === 1;
  }

  private async transition(
    id: string,
    action: ApprovalDecision | 'expire',
    user: string,
    nowMs: number,
    audit?: AuditEntry,
  ): Promise<TransitionResult> {
    const args = [
      this.recordKey(id),
      this.pendingKey,
      this.releasingKey,
      this.auditKey,
      id,
      action,
      user,
      String(nowMs),
      encodeAudit(audit),
      String(AUDIT_MAX_ENTRIES),
    ];
    const outcome = (await durableWrite(this.redis, 'approval decision', () =>
      this.redis.eval(TRANSITION_SCRIPT, 4, ...args),
    )) as TransitionOutcome;
    if (outcome === 'missing') return { outcome };
    const approval = await this.get(id);
    // The hash was there a moment ago; unreadable now means it is corrupt, which is as good as missing.
    return approval ? { outcome, approval } : { outcome: 'missing' };
  }
}

/**
 * An audit entry as AuditLog.append stores it (field `entry`, the validated entry as JSON), for the
 * scripts that append one atomically with a state change; AuditLog.latest reads them like any other.
 */
function encodeAudit(entry: AuditEntry | undefined): string {
  return entry === undefined ? '' : JSON.stringify(AuditEntry.parse(entry));
}

import type { Redis } from 'ioredis';
import { Approval } from './schema.js';
import type { ApprovalDecision, NewApproval, TransitionOutcome } from './schema.js';

/** A decided approval stays readable this long (cards, audit cross-references), then Redis drops it. */
const KEEP_AFTER_EXPIRY_MS = 30 * 24 * 3600 * 1000;

/**
 * The one place an approval changes state, atomically: two approvers clicking at once, a double
 * click, or a click racing the sweeper all reach this script, and Redis runs one at a time, so
 * only one caller sees pending and moves it on. Time is the caller's (ARGV[4]) so tests can set it.
 *
 * KEYS[1] the approval's hash, KEYS[2] the pending set (scored by expiry)
 * ARGV[1] approval id, ARGV[2] 'approved' | 'denied' | 'expire', ARGV[3] who decides, ARGV[4] now (ms)
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
return 'won'
`;

export type TransitionResult = { outcome: Exclude<TransitionOutcome, 'missing'>; approval: Approval } | { outcome: 'missing' };

/**
 * Approvals in Redis: a hash per approval (`<prefix>:approvals:<id>`) and a sorted set of the
 * pending ones scored by expiry (`<prefix>:approvals:pending`), which the sweeper reads after a
 * restart as before it. Nothing about an approval is kept in memory.
 */
export class ApprovalStore {
  private readonly base: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.base = `${prefix}:approvals`;
  }

  private recordKey(id: string): string {
    return `${this.base}:${id}`;
  }

  private get pendingKey(): string {
    return `${this.base}:pending`;
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

  /** Approves or denies, if still pending and within its time; past its time, marks it expired instead. */
  async decide(id: string, decision: ApprovalDecision, user: string, nowMs: number): Promise<TransitionResult> {
    return this.transition(id, decision, user, nowMs);
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

  private async transition(id: string, action: ApprovalDecision | 'expire', user: string, nowMs: number): Promise<TransitionResult> {
    const outcome = (await this.redis.eval(TRANSITION_SCRIPT, 2, this.recordKey(id), this.pendingKey, id, action, user, String(nowMs))) as TransitionOutcome;
    if (outcome === 'missing') return { outcome };
    const approval = await this.get(id);
    // The hash was there a moment ago; unreadable now means it is corrupt, which is as good as missing.
    return approval ? { outcome, approval } : { outcome: 'missing' };
  }
}

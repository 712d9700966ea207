import type { Redis } from 'ioredis';
import { z } from 'zod';

/**
 * Where a job's card lives and who asked: written when the card is posted, read by the reporter and by busy notices.
 */
export const CardRecord = z.object({
  channel: z.string().regex(/^[CDG][A-Z0-9]+$/),
  ts: z.string().regex(/^\d+\.\d+$/),
  user: z.string(),
  operation: z.string(),
  cluster: z.string(),
  permalink: z.string().optional(),
  requestedAt: z.string().optional(),
  /** The node of a node.* operation. */
  node: z.string().optional(),
  /** Set when the card was an approval card: who approved the operation, and when (ISO). */
  approvedBy: z.string().optional(),
  approvedAt: z.string().optional(),
});
export type CardRecord = z.infer<typeof CardRecord>;

/** A reply's entry: its message ts once posted, or CLAIMED while the post is in flight. */
export const CLAIMED = 'claimed';

/** Cards and progress outlive the job's events (a week) so a late restart can still finish a card. */
const TTL_SECONDS = 30 * 24 * 3600;

/**
 * Everything the Slack front keeps in Redis, under `<prefix>:slack:`; the one place its key names live.
 * Redis data is untyped, so cards are validated on the way out.
 */
export class SlackStore {
  private readonly base: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.base = `${prefix}:slack`;
  }

  private key(kind: string, jobId?: string): string {
    return jobId === undefined ? `${this.base}:${kind}` : `${this.base}:${kind}:${jobId}`;
  }

  /** True the first time a Slack delivery (its body's hash) is seen within `ttlSeconds`, across bot replicas. */
  async firstDelivery(key: string, ttlSeconds: number): Promise<boolean> {
    return (await this.redis.set(this.key('delivery', key), '1', 'EX', ttlSeconds, 'NX')) === 'OK';
  }

  /**
   * firstDelivery for several deliveries in one round trip (a pipeline): for each key, true or false,
   * or the error Redis gave for that key alone. Rejects when the round trip itself fails.
   */
  async firstDeliveries(keys: string[], ttlSeconds: number): Promise<(boolean | Error)[]> {
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.set(this.key('delivery', key), '1', 'EX', ttlSeconds, 'NX');
    const replies = (await pipeline.exec()) ?? [];
    return keys.map((_key, i) => {
      const [error, reply] = replies[i] ?? [new Error('no reply from Redis'), null];
      return error ?? reply === 'OK';
    });
  }

  /** Records a job's card and marks it unfinished, in one step: a card is never saved yet forgotten. */
  async saveCard(jobId: string, card: CardRecord): Promise<void> {
    const checked = CardRecord.parse(card);
    const fields = Object.entries(checked).filter((entry): entry is [string, string] => entry[1] !== undefined);
    await this.redis
      .multi()
      .hset(this.key('card', jobId), Object.fromEntries(fields))
      .expire(this.key('card', jobId), TTL_SECONDS)
      .sadd(this.key('active'), jobId)
      .exec();
  }

  async getCard(jobId: string): Promise<CardRecord | undefined> {
    const raw = await this.redis.hgetall(this.key('card', jobId));
    const parsed = CardRecord.safeParse(raw);
    return parsed.success ? parsed.data : undefined;
  }

  /** Jobs whose cards are not final yet: a starting bot resumes each. */
  async activeJobs(): Promise<string[]> {
    return this.redis.smembers(this.key('active'));
  }

  async markFinished(jobId: string): Promise<void> {
    await this.redis.srem(this.key('active'), jobId);
  }

  /** The id of the last event whose effects (replies) are all done; '0' when none. */
  async cursor(jobId: string): Promise<string> {
    return (await this.redis.hget(this.key('progress', jobId), 'cursor')) ?? '0';
  }

  async saveCursor(jobId: string, id: string): Promise<void> {
    await this.redis
      .multi()
      .hset(this.key('progress', jobId), 'cursor', id)
      .expire(this.key('progress', jobId), TTL_SECONDS)
      .exec();
  }

  /** A fingerprint of the card as last written to Slack, so an unchanged card is not re-sent. */
  async cardFingerprint(jobId: string): Promise<string | undefined> {
    return (await this.redis.hget(this.key('progress', jobId), 'card')) ?? undefined;
  }

  async saveCardFingerprint(jobId: string, fingerprint: string): Promise<void> {
    await this.redis
      .multi()
      .hset(this.key('progress', jobId), 'card', fingerprint)
      .expire(this.key('progress', jobId), TTL_SECONDS)
      .exec();
  }

  /** Claims a reply before posting it; false when it was posted (or its post began) before. */
  async claimReply(jobId: string, key: string): Promise<{ claimed: true } | { claimed: false; state: string }> {
    const repliesKey = this.key('replies', jobId);
    const [[, set], , [, state]] = (await this.redis
      .multi()
      .hsetnx(repliesKey, key, CLAIMED)
      .expire(repliesKey, TTL_SECONDS)
      .hget(repliesKey, key)
      .exec()) as [[Error | null, number], [Error | null, number], [Error | null, string | null]];
    return set === 1 ? { claimed: true } : { claimed: false, state: state ?? CLAIMED };
  }

  async recordReply(jobId: string, key: string, ts: string): Promise<void> {
    await this.redis.hset(this.key('replies', jobId), key, ts);
  }

  /** Gives a claim back after a post that certainly failed, so the next pass tries again. */
  async releaseReply(jobId: string, key: string): Promise<void> {
    await this.redis.hdel(this.key('replies', jobId), key);
  }

  async replies(jobId: string): Promise<Record<string, string>> {
    return this.redis.hgetall(this.key('replies', jobId));
  }

  /** One reporter per job across bot processes: a lease renewed while it works. */
  async acquireLease(jobId: string, owner: string, ttlMs: number): Promise<boolean> {
    const key = this.key('lease', jobId);
    const result = await this.redis.set(key, owner, 'PX', ttlMs, 'NX');
    if (result === 'OK') return true;
    // Renew our own lease; compare-and-set so we never extend someone else's.
    const renewed = await this.redis.eval(
      "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end",
      1,
      key,
      owner,
      String(ttlMs),
    );
    return renewed === 1;
  }

  async releaseLease(jobId: string, owner: string): Promise<void> {
    await this.redis.eval(
      "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
      1,
      this.key('lease', jobId),
      owner,
    );
  }
}

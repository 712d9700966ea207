import { setTimeout as sleep } from 'node:timers/promises';

/** A budget of calls: `burst` at once, refilled at `perMinute`. Over any minute, at most burst + perMinute calls. */
export interface RateBudget {
  perMinute: number;
  burst: number;
}

/**
 * Slack's Tier 3 allows about 50 calls a minute per method; the reporter stays well under it, so
 * a burst of step events never earns a 429 (which would delay every card at once).
 */
export const DEFAULT_SLACK_BUDGET: RateBudget = { perMinute: 30, burst: 5 };

/** A token bucket; callers queue in order. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly budget: RateBudget,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = budget.burst;
    this.last = now();
  }

  /** Takes a token if one is there and returns 0; otherwise returns how many ms until one will be. */
  tryTake(): number {
    const now = this.now();
    const perMs = this.budget.perMinute / 60_000;
    this.tokens = Math.min(this.budget.burst, this.tokens + (now - this.last) * perMs);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.tokens) / perMs);
  }

  /** Waits for a token, in turn with other callers; rejects if `signal` aborts while waiting. */
  take(signal?: AbortSignal): Promise<void> {
    const turn = this.queue.then(async () => {
      for (let wait = this.tryTake(); wait > 0; wait = this.tryTake()) await sleep(wait, undefined, { signal });
    });
    this.queue = turn.catch(() => undefined);
    return turn;
  }
}

/** One bucket per Web API method, as Slack counts them. */
export class MethodLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly budget: RateBudget = DEFAULT_SLACK_BUDGET,
    private readonly now: () => number = Date.now,
  ) {}

  take(method: string, signal?: AbortSignal): Promise<void> {
    let bucket = this.buckets.get(method);
    if (!bucket) {
      bucket = new TokenBucket(this.budget, this.now);
      this.buckets.set(method, bucket);
    }
    return bucket.take(signal);
  }
}

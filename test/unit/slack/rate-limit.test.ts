import { describe, expect, it } from 'vitest';
import { DEFAULT_SLACK_BUDGET, TokenBucket } from '../../../src/slack/rate-limit.js';
import { compareStreamIds } from '../../../src/slack/reporter.js';

describe('TokenBucket', () => {
  it('allows the burst at once, then one call per refill interval', () => {
    let now = 0;
    const bucket = new TokenBucket({ perMinute: 30, burst: 5 }, () => now);
    expect(Array.from({ length: 5 }, () => bucket.tryTake())).toEqual([0, 0, 0, 0, 0]);
    expect(bucket.tryTake()).toBe(2000);
    now += 1999;
    expect(bucket.tryTake()).toBe(1);
    now += 1;
    expect(bucket.tryTake()).toBe(0);
  });

  it("keeps any minute under Slack's Tier 3 (about 50 a minute per method) with the default budget", () => {
    let now = 0;
    const bucket = new TokenBucket(DEFAULT_SLACK_BUDGET, () => now);
    let calls = 0;
    // Hammer it for a minute, one attempt per millisecond.
    for (; now < 60_000; now += 1) if (bucket.tryTake() === 0) calls += 1;
    expect(calls).toBeLessThanOrEqual(DEFAULT_SLACK_BUDGET.burst + DEFAULT_SLACK_BUDGET.perMinute);
    expect(calls).toBeLessThan(50);
  });

  it('serves waiting callers in order', async () => {
    const bucket = new TokenBucket({ perMinute: 600_000, burst: 1 });
    const order: number[] = [];
    await Promise.all([1, 2, 3].map((i) => bucket.take().then(() => order.push(i))));
    expect(order).toEqual([1, 2, 3]);
  });

  it('stops waiting when aborted', async () => {
    const bucket = new TokenBucket({ perMinute: 1, burst: 1 });
    await bucket.take();
    const controller = new AbortController();
    const waiting = bucket.take(controller.signal);
    controller.abort();
    await expect(waiting).rejects.toThrow(/abort/i);
  });
});

describe('compareStreamIds', () => {
  it('orders Redis stream ids numerically, with 0 first', () => {
    expect(compareStreamIds('0', '1700000000000-0')).toBe(-1);
    expect(compareStreamIds('1700000000000-10', '1700000000000-9')).toBe(1);
    expect(compareStreamIds('999-0', '1000-0')).toBe(-1);
    expect(compareStreamIds('5-5', '5-5')).toBe(0);
  });
});

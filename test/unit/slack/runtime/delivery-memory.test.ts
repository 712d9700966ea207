import { messageOf } from '../../../../src/errors.js';
import { describe, expect, it } from 'vitest';
import { batchedFirstDelivery } from '../../../../src/slack/runtime/delivery-memory.js';
import type { FirstDeliveries } from '../../../../src/slack/runtime/delivery-memory.js';

/** A recording stand-in for SlackStore.firstDeliveries: remembers keys, answers per key. */
function recordingStore(answerFor: (key: string, seen: boolean) => boolean | Error = (_key, seen) => !seen) {
  const calls: string[][] = [];
  const seen = new Set<string>();
  const ask: FirstDeliveries = (keys) => {
    calls.push(keys);
    return Promise.resolve(
      keys.map((key) => {
        const answer = answerFor(key, seen.has(key));
        seen.add(key);
        return answer;
      }),
    );
  };
  return { calls, ask };
}

describe('batchedFirstDelivery', () => {
  it('asks once for every delivery of one turn, and answers each its own', async () => {
    const store = recordingStore();
    const firstDelivery = batchedFirstDelivery(store.ask);
    const answers = await Promise.all([firstDelivery('a', 600), firstDelivery('b', 600), firstDelivery('a', 600)]);
    expect(store.calls).toEqual([['a', 'b', 'a']]);
    expect(answers).toEqual([true, true, false]);
    expect(await firstDelivery('b', 600)).toBe(false);
    expect(store.calls).toHaveLength(2);
  });

  it('fails only the delivery Redis failed, and every one of a round trip that failed', async () => {
    const store = recordingStore((key) => (key === 'bad' ? new Error('OOM command not allowed') : true));
    const firstDelivery = batchedFirstDelivery(store.ask);
    const results = await Promise.allSettled([firstDelivery('good', 600), firstDelivery('bad', 600)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    const down = batchedFirstDelivery(() => Promise.reject(new Error('Connection is closed.')));
    const both = await Promise.allSettled([down('x', 600), down('y', 600)]);
    expect(both.map((r) => (r.status === 'rejected' ? messageOf(r.reason) : 'ok'))).toEqual([
      'Connection is closed.',
      'Connection is closed.',
    ]);
  });
});

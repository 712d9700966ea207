/** Asks Redis about several deliveries at once (SlackStore.firstDeliveries). */
export type FirstDeliveries = (keys: string[], ttlSeconds: number) => Promise<(boolean | Error)[]>;

interface Waiting {
  key: string;
  resolve: (first: boolean) => void;
  reject: (error: Error) => void;
}

/**
 * A `firstDelivery` (see SlackHttpReceiverOptions) that asks Redis once per turn of the event loop
 * for every delivery received in it. Each ack waits on this round trip; in a burst, one round trip
 * per request meant one Redis wake-up and one reply to wait for each, and on a busy machine those
 * waits, not the work, were most of the ack's time (bench/slack-ack/RESULTS.md). The answer for each
 * delivery is its own, and so is a failure (then the request gets its 503).
 */
export function batchedFirstDelivery(ask: FirstDeliveries): (key: string, ttlSeconds: number) => Promise<boolean> {
  const pending = new Map<number, Waiting[]>();
  const flush = (ttlSeconds: number): void => {
    const batch = pending.get(ttlSeconds) ?? [];
    pending.delete(ttlSeconds);
    ask(
      batch.map((w) => w.key),
      ttlSeconds,
    ).then(
      (answers) =>
        batch.forEach((w, i) => {
          const answer = answers[i];
          if (typeof answer === 'boolean') w.resolve(answer);
          else w.reject(answer ?? new Error('no answer for this delivery'));
        }),
      (error: unknown) => batch.forEach((w) => w.reject(error instanceof Error ? error : new Error(String(error)))),
    );
  };
  return (key, ttlSeconds) =>
    new Promise<boolean>((resolve, reject) => {
      const batch = pending.get(ttlSeconds);
      if (batch) return void batch.push({ key, resolve, reject });
      pending.set(ttlSeconds, [{ key, resolve, reject }]);
      // After the I/O of this turn: every request whose body arrived with this one joins the batch.
      setImmediate(() => flush(ttlSeconds));
    });
}

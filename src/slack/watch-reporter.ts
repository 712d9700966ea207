import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { messageOf } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { WatchAlertEvent, WatchStore } from '../queue/watch.js';
import { buildWatchAlert, buildWatchRecovery } from './messages/watch.js';
import { MethodLimiter } from './rate-limit.js';
import type { ReporterClient } from './reporter.js';
import { isPermanentSlackError } from './reporter.js';

export interface WatchReporterOptions {
  client: ReporterClient;
  store: WatchStore;
  logger: Logger;
  limiter?: MethodLimiter;
  /** How often the alert stream is read (default 1 s). */
  pollMs?: number;
  /** How long this bot's claim on the stream lasts without renewal (several bots may run). */
  leaseMs?: number;
}

/**
 * The one way the watch talks to Slack: tails the watch's alert stream (written by the workers'
 * ticks), posts each fault in its watch's channel and each recovery as a reply in that fault's
 * thread. Exactly once across restarts and bots: one bot holds the stream's lease, the cursor is
 * in Redis, every alert is claimed before it is posted, and the message ts is kept for its recovery.
 */
export class WatchReporter {
  private readonly abort = new AbortController();
  private readonly owner = randomUUID();
  private readonly limiter: MethodLimiter;
  private loop?: Promise<void>;

  constructor(private readonly options: WatchReporterOptions) {
    this.limiter = options.limiter ?? new MethodLimiter();
  }

  start(): void {
    this.loop ??= this.run();
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  /** One pass: every alert after the cursor, in order (tests call it directly). */
  async pass(): Promise<number> {
    const { store } = this.options;
    if (!(await store.acquireLease(this.owner, this.options.leaseMs ?? 15_000))) return 0;
    let cursor = await store.cursor();
    const read = await store.readAlerts(cursor);
    for (const id of read.skipped)
      this.options.logger.warn({ entry: id }, 'watch alert skipped: the stream entry is not a valid alert');
    let posted = 0;
    for (const { id, event } of read.events) {
      if (await this.post(event)) posted += 1;
      cursor = id;
      await store.saveCursor(cursor);
    }
    if (read.position !== undefined && read.position !== cursor) await store.saveCursor(read.position);
    return posted;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.abort.signal.aborted) {
      try {
        await this.pass();
        failures = 0;
      } catch (error) {
        if (this.abort.signal.aborted) break;
        failures += 1;
        this.options.logger.warn({ err: messageOf(error), failures }, 'watch reporter pass failed; will retry');
      }
      const wait = (this.options.pollMs ?? 1000) * 2 ** Math.min(failures, 5);
      try {
        await sleep(wait, undefined, { signal: this.abort.signal });
      } catch {
        break;
      }
    }
  }

  /** Posts one alert unless it was posted before; true when it was posted now. */
  private async post(event: WatchAlertEvent): Promise<boolean> {
    const { store, client, logger } = this.options;
    if (!(await store.claimPost(event.id))) return false;
    const threadTs = event.faultId ? await store.postedTs(event.faultId) : undefined;
    const message =
      event.type === 'fault'
        ? buildWatchAlert(event.cluster, event.fault)
        : buildWatchRecovery(event.cluster, event.fault, event.at);
    try {
      await this.limiter.take('chat.postMessage', this.abort.signal);
      const result = await client.chat.postMessage({
        channel: event.channel,
        // A recovery whose alert was never posted (its record expired) stands on its own.
        ...(threadTs && /^\d+\.\d+$/.test(threadTs) ? { thread_ts: threadTs } : {}),
        text: message.text,
        blocks: message.blocks,
        unfurl_links: false,
        unfurl_media: false,
      });
      await store.recordPost(event.id, result.ts ?? 'posted');
      logger.info({ cluster: event.cluster, type: event.type, fault: event.fault.key }, 'watch alert posted');
      return true;
    } catch (error) {
      if (isPermanentSlackError(error)) {
        logger.error({ err: messageOf(error), alert: event.id }, 'watch alert refused by Slack; skipping it');
        await store.recordPost(event.id, 'refused');
        return false;
      }
      await store.releasePost(event.id);
      throw error;
    }
  }
}

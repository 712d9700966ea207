import type { EventEmitter } from 'node:events';
import type { Logger } from '../log/logger.js';
import { messageOf } from '../errors.js';

/** Kinds of follow-up work: Slack and Redis calls, or reads over SSH (slow, and heavy on CPU while connecting). */
export type AfterAckLane = 'slack' | 'ssh';

const DEFAULT_CONCURRENCY: Record<AfterAckLane, number> = { slack: 4, ssh: 4 };
/** Longest a follow-up waits for the receiver to fall quiet: under a steady stream it still makes progress. */
const DEFAULT_MAX_DEFER_MS = 1000;

export interface AfterAckOptions {
  concurrency?: Record<AfterAckLane, number>;
  maxDeferMs?: number;
}

/**
 * The work a listener does after its ack, a few at a time per lane, and none of it started while
 * the HTTP receiver has requests still unanswered. Acks and follow-ups share one event loop: in a
 * burst of 100 commands, every follow-up that runs between two acks delays all the acks after it.
 * So a follow-up starts only once every request received so far has been answered (or after
 * `maxDeferMs`, so a steady stream cannot starve it); an SSH lane of its own keeps a slow status
 * read from holding up job cards.
 */
export class AfterAck {
  private readonly lanes: Record<AfterAckLane, { running: number; waiting: (() => void)[] }> = {
    slack: { running: 0, waiting: [] },
    ssh: { running: 0, waiting: [] },
  };
  private readonly inFlight = new Set<Promise<void>>();
  private readonly concurrency: Record<AfterAckLane, number>;
  private readonly maxDeferMs: number;
  /** Requests the receiver has received and not yet answered. */
  private unanswered = 0;
  /** Follow-ups whose lane has room, waiting for the receiver to fall quiet. */
  private readonly deferred: (() => void)[] = [];
  private oldestDeferredAt = 0;
  private checkScheduled = false;
  private deferTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: Logger,
    options: AfterAckOptions = {},
  ) {
    this.concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    this.maxDeferMs = options.maxDeferMs ?? DEFAULT_MAX_DEFER_MS;
  }

  /** Counts the server's unanswered requests, so follow-ups wait until every ack is out. */
  watch(server: EventEmitter): void {
    server.prependListener('request', (_req: unknown, res: EventEmitter) => {
      this.unanswered += 1;
      // 'close' follows 'finish', and also comes when the client goes away before the answer.
      res.once('close', () => {
        this.unanswered -= 1;
        if (this.unanswered === 0) this.scheduleCheck();
      });
    });
  }

  /** Queues `task`; it starts once the lane has room and the receiver has answered every request so far. */
  run(lane: AfterAckLane, task: () => Promise<void>): void {
    const done = this.acquire(lane)
      .then(task)
      .catch((error: unknown) => this.logger.error({ err: messageOf(error), lane }, 'work after ack failed'))
      .finally(() => {
        this.release(lane);
        this.inFlight.delete(done);
      });
    this.inFlight.add(done);
  }

  /** Resolves when nothing is queued or running (shutdown, tests). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  private acquire(lane: AfterAckLane): Promise<void> {
    const state = this.lanes[lane];
    return new Promise((resolve) => {
      const start = () => this.whenQuiet(resolve);
      if (state.running < this.concurrency[lane]) {
        state.running += 1;
        start();
      } else {
        state.waiting.push(start);
      }
    });
  }

  private release(lane: AfterAckLane): void {
    const state = this.lanes[lane];
    const next = state.waiting.shift();
    if (next) next();
    else state.running -= 1;
  }

  private whenQuiet(start: () => void): void {
    if (this.deferred.length === 0) this.oldestDeferredAt = performance.now();
    this.deferred.push(start);
    this.scheduleCheck();
  }

  /** Checks after the I/O already waiting (new requests included) has been handled, never in the caller's turn. */
  private scheduleCheck(): void {
    if (this.checkScheduled || this.deferred.length === 0) return;
    this.checkScheduled = true;
    setImmediate(() => {
      this.checkScheduled = false;
      this.startDeferred();
    });
  }

  private startDeferred(): void {
    if (this.deferred.length === 0) return;
    const waited = performance.now() - this.oldestDeferredAt;
    if (this.unanswered > 0 && waited < this.maxDeferMs) {
      // The last answer schedules the next check; the timer bounds the wait if answers keep coming.
      this.deferTimer ??= setTimeout(() => {
        this.deferTimer = undefined;
        this.startDeferred();
      }, this.maxDeferMs - waited);
      return;
    }
    if (this.deferTimer) {
      clearTimeout(this.deferTimer);
      this.deferTimer = undefined;
    }
    for (const start of this.deferred.splice(0)) start();
  }
}

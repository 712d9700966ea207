import type { Logger } from '../log/logger.js';

/** Kinds of follow-up work: Slack and Redis calls, or reads over SSH (slow, and heavy on CPU while connecting). */
export type AfterAckLane = 'slack' | 'ssh';

const DEFAULT_CONCURRENCY: Record<AfterAckLane, number> = { slack: 4, ssh: 4 };

/**
 * The work a listener does after its ack, a few at a time per lane. Acks and follow-ups share one
 * event loop: a burst of 100 commands whose follow-ups all ran at once would delay the acks of the
 * later ones past Slack's patience. Bounding the follow-ups keeps acks first; an SSH lane of its
 * own keeps a slow status read from holding up job cards.
 */
export class AfterAck {
  private readonly lanes: Record<AfterAckLane, { running: number; waiting: (() => void)[] }> = {
    slack: { running: 0, waiting: [] },
    ssh: { running: 0, waiting: [] },
  };
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly logger: Logger,
    private readonly concurrency: Record<AfterAckLane, number> = DEFAULT_CONCURRENCY,
  ) {}

  /** Queues `task`; it starts once the lane has room, after any I/O already waiting (new requests) is handled. */
  run(lane: AfterAckLane, task: () => Promise<void>): void {
    const done = this.acquire(lane)
      .then(task)
      .catch((error: unknown) => this.logger.error({ err: error instanceof Error ? error.message : String(error), lane }, 'work after ack failed'))
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
      const start = () => setImmediate(resolve);
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
}

import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log/logger.js';
import type { BotDeps } from './deps.js';
import { finishExpiredApproval } from './handlers/approval-outcome.js';
import { releasePendingApprovals } from './handlers/approval-release.js';
import { messageOf } from '../errors.js';

/** How often overdue approvals are looked for: a card says "expired" within this of its time. */
export const DEFAULT_SWEEP_MS = 15_000;

/**
 * Expires approvals nobody decided in time: each overdue id goes through the same Lua script as a
 * click, so a click and the sweeper (or two bots' sweepers) racing close a card once. The pending
 * set lives in Redis, so approvals that ran out while the bot was down are closed at its start.
 * Each pass also finishes the release of approvals a click won but did not release (the bot died,
 * or Redis or Slack failed on the way): through the click's own code, so each runs once.
 */
export class ApprovalSweeper {
  private readonly abort = new AbortController();
  private loop?: Promise<void>;

  constructor(
    private readonly deps: BotDeps,
    private readonly logger: Logger,
    private readonly intervalMs = DEFAULT_SWEEP_MS,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  /**
   * One pass: every approval overdue now is expired and its card closed, then every approval left
   * releasing is released. Returns how many expired.
   */
  async sweep(): Promise<number> {
    const now = this.deps.now();
    let expired = 0;
    for (const id of await this.deps.approvals.overdue(now)) {
      const result = await this.deps.approvals.expire(id, now);
      if (result.outcome !== 'expired') continue;
      expired += 1;
      try {
        await finishExpiredApproval(this.deps, result.approval, this.logger);
      } catch (error) {
        // The state is expired in Redis already; a card we could not edit still refuses clicks.
        this.logger.warn({ approvalId: id, err: messageOf(error) }, 'could not close an expired approval card');
      }
    }
    await this.release();
    return expired;
  }

  /** Releases every approved request whose release did not finish; returns how many finished now. */
  async release(): Promise<number> {
    return releasePendingApprovals(this.deps, this.logger);
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      try {
        await this.sweep();
      } catch (error) {
        this.logger.warn({ err: messageOf(error) }, 'approval sweep failed; will retry');
      }
      try {
        await sleep(this.intervalMs, undefined, { signal: this.abort.signal });
      } catch {
        return;
      }
    }
  }
}

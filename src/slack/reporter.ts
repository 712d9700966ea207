import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { webApi } from '@slack/bolt';
import type { Redis } from 'ioredis';
import { messageOf } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { publishEvent, readEventBatch } from '../queue/events.js';
import type { OperationsQueue } from '../queue/queue.js';
import type { JobEvent, ProgressEvent } from '../operations/progress.js';
import { JobData, OperationName } from '../operations/schema.js';
import { applyEvent, initialJobView, isJobEnded } from './job-view.js';
import type { JobView } from './job-view.js';
import { buildJobCard } from './messages/job-card.js';
import type { SlackMessage } from './messages/mrkdwn.js';
import { MethodLimiter } from './rate-limit.js';
import type { PlannedReply } from './reply-plan.js';
import { repliesForEvent } from './reply-plan.js';
import { CLAIMED } from './store.js';
import type { CardRecord, SlackStore } from './store.js';

/** The Web API methods the reporter calls (Bolt's `app.client` in production). */
export type ReporterClient = Pick<webApi.WebClient, 'chat'>;

export interface ReporterOptions {
  client: ReporterClient;
  redis: Redis;
  store: SlackStore;
  queue: OperationsQueue;
  logger: Logger;
  limiter?: MethodLimiter;
  /** How often a job's stream is read; reads do not block, so one connection serves every job. */
  pollMs?: number;
  /** The least time between two edits of one card; the final edit does not wait. */
  cardIntervalMs?: number;
  /** How long a reporter's claim on a job lasts without renewal (several bots may run). */
  leaseMs?: number;
  /** Quiet time after which BullMQ is asked whether the job ended without saying so. */
  staleCheckMs?: number;
  /** How often the set of unfinished cards is re-read, to adopt jobs another bot left behind. */
  rescanMs?: number;
  /** How long close() waits for a Slack call in flight (e.g. waiting out a 429). */
  closeTimeoutMs?: number;
}

/** Within the life of a job's event stream (a week), well inside that of the reply records (30 days). */
const ADOPT_WINDOW_MS = 6 * 24 * 3600 * 1000;

/** Slack refused the call (ok:false) for a reason that passes: retrying the same call may succeed. */
const TRANSIENT_PLATFORM_ERRORS = new Set([
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'ratelimited',
]);

/**
 * The one way a job talks to Slack: tails the job's event stream, edits its card in place
 * (throttled) and posts replies in its thread, each exactly once.
 *
 * Restart safety: the cursor (last event whose replies are done) and every reply's key live in
 * Redis; a reply is claimed before it is posted, so a replay never posts it twice. The card is
 * redrawn from the whole stream, so it is always right after a restart. A job that ended without
 * a final event (a worker killed past its retries) is noticed through BullMQ and its card closed.
 */
export class JobReporter {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();
  private readonly owner = randomUUID();
  private readonly limiter: MethodLimiter;
  private readonly pollMs: number;
  private readonly cardIntervalMs: number;
  private readonly leaseMs: number;
  private readonly staleCheckMs: number;
  private readonly rescanMs: number;
  private readonly closeTimeoutMs: number;
  /** The queue's prefix, under which the jobs' event streams live. */
  private readonly prefix: string;
  private rescan?: Promise<void>;

  constructor(private readonly options: ReporterOptions) {
    this.limiter = options.limiter ?? new MethodLimiter();
    this.pollMs = options.pollMs ?? 250;
    this.cardIntervalMs = options.cardIntervalMs ?? 1500;
    this.leaseMs = options.leaseMs ?? 15_000;
    this.staleCheckMs = options.staleCheckMs ?? 10_000;
    this.rescanMs = options.rescanMs ?? 30_000;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
    this.prefix = options.queue.opts.prefix ?? 'warren';
  }

  /** Resumes every card left unfinished (by this bot before a restart, or by another bot), then keeps looking. */
  async start(): Promise<void> {
    await this.adoptUnfinished();
    this.rescan = this.rescanLoop();
  }

  /** Starts reporting a job whose card is saved in the store; a second call for the same job does nothing. */
  track(jobId: string): void {
    if (this.abort.signal.aborted || this.tails.has(jobId)) return;
    const tail = this.tail(jobId)
      .catch((error: unknown) => {
        if (!this.abort.signal.aborted)
          this.options.logger.error({ jobId, err: messageOf(error) }, 'slack reporter stopped on an unexpected error');
      })
      .finally(() => this.tails.delete(jobId));
    this.tails.set(jobId, tail);
  }

  /** Jobs being reported right now. */
  tracking(): string[] {
    return [...this.tails.keys()];
  }

  /** Resolves once every tracked job's card is final (tests, and graceful shutdown). */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all(this.tails.values());
  }

  /** Stops reporting; unfinished cards stay in Redis for the next start. */
  async close(): Promise<void> {
    this.abort.abort();
    const all = Promise.all([...this.tails.values(), this.rescan]);
    await Promise.race([all, sleep(this.closeTimeoutMs, undefined, { ref: false })]);
  }

  private async adoptUnfinished(): Promise<void> {
    await this.adoptFromQueue();
    for (const jobId of await this.options.store.activeJobs()) this.track(jobId);
  }

  /**
   * Slack jobs on the queue whose card was never recorded (the bot stopped between enqueueing and
   * saving the card): the job's origin says where the card is.
   */
  private async adoptFromQueue(): Promise<void> {
    const { queue, store } = this.options;
    const jobs = await queue.getJobs(['active', 'waiting', 'delayed', 'prioritized', 'completed', 'failed'], 0, 49);
    for (const job of jobs) {
      // Older jobs' events and reply records have expired: adopting them could only post twice.
      if (!job.id || this.tails.has(job.id) || Date.now() - job.timestamp > ADOPT_WINDOW_MS) continue;
      const data = JobData.safeParse(job.data);
      if (!data.success || data.data.origin.kind !== 'slack') continue;
      if (await store.getCard(job.id)) continue;
      const { origin } = data.data;
      await store.saveCard(job.id, {
        channel: origin.channel,
        ts: origin.cardTs,
        user: origin.user,
        operation: data.data.operation,
        cluster: data.data.cluster,
        requestedAt: data.data.requestedAt,
        ...(data.data.node ? { node: data.data.node } : {}),
        // The approval time is on the approval record, not the job; who approved is enough to keep the line.
        ...(data.data.authorization?.kind === 'approval' ? { approvedBy: data.data.authorization.approvedBy } : {}),
      });
      this.options.logger.info({ jobId: job.id }, 'adopted a Slack job whose card was never recorded');
    }
  }

  private async rescanLoop(): Promise<void> {
    while (await this.pause(this.rescanMs)) {
      try {
        await this.adoptUnfinished();
      } catch (error) {
        this.options.logger.warn({ err: messageOf(error) }, 'slack reporter could not list unfinished cards');
      }
    }
  }

  /** Sleeps unless closing; false once closing. */
  private async pause(ms: number): Promise<boolean> {
    try {
      await sleep(ms, undefined, { signal: this.abort.signal });
      return true;
    } catch {
      return false;
    }
  }

  private async tail(jobId: string): Promise<void> {
    const { store, logger } = this.options;
    const card = await store.getCard(jobId);
    if (!card) {
      logger.warn({ jobId }, 'slack reporter: no card recorded for job; not reporting it');
      await store.markFinished(jobId);
      return;
    }
    const state: TailState = {
      jobId,
      card,
      view: initialJobView(jobId, card.operation, card.cluster),
      position: '0',
      cursor: await store.cursor(jobId),
      fingerprint: await store.cardFingerprint(jobId),
      lastCardUpdate: 0,
      lastActivity: Date.now(),
      failures: 0,
    };
    const log = logger.child({ jobId, cluster: card.cluster, channel: card.channel, cardTs: card.ts });
    while (!this.abort.signal.aborted) {
      let done = false;
      try {
        if (await store.acquireLease(jobId, this.owner, this.leaseMs)) done = await this.pass(state, log);
        state.failures = 0;
      } catch (error) {
        if (this.abort.signal.aborted) break;
        state.failures += 1;
        log.warn({ err: messageOf(error), failures: state.failures }, 'slack reporter pass failed; will retry');
      }
      if (done) {
        await store.markFinished(jobId);
        await store.releaseLease(jobId, this.owner);
        log.info({ state: state.view.state }, 'job card final');
        return;
      }
      const backoff =
        state.failures === 0 ? this.pollMs : Math.min(30_000, this.pollMs * 2 ** Math.min(state.failures, 8));
      if (!(await this.pause(backoff))) break;
    }
    await store.releaseLease(jobId, this.owner).catch(() => undefined);
  }

  /** One read of the stream: replies for new events, then the card if it changed. True when the card is final. */
  private async pass(state: TailState, log: Logger): Promise<boolean> {
    const read = await readEventBatch(this.options.redis, this.prefix, state.jobId, state.position, { count: 200 });
    for (const bad of read.skipped)
      log.warn(
        { code: bad.code, entry: bad.id, reason: bad.reason },
        'job event skipped: the stream entry is not a valid event',
      );
    const batch = read.events;
    for (const { id, event } of batch) {
      const view = applyEvent(state.view, event);
      if (compareStreamIds(id, state.cursor) > 0) {
        for (const reply of repliesForEvent(event, view)) await this.postReply(state, reply, log);
        await this.options.store.saveCursor(state.jobId, id);
        state.cursor = id;
      }
      state.view = view;
      state.position = id;
    }
    // Past the skipped entries too, so a bad last entry is not read again on every pass.
    if (read.position !== undefined) state.position = read.position;
    const now = Date.now();
    if (batch.length > 0) state.lastActivity = now;
    const ended = isJobEnded(state.view);
    await this.updateCard(state, ended, log);
    if (ended) return state.fingerprint !== undefined && state.fingerprint === this.fingerprintOf(state);
    if (batch.length === 0 && now - state.lastActivity >= this.staleCheckMs) await this.checkSilentEnd(state, log);
    return false;
  }

  private render(state: TailState): SlackMessage {
    const { user, requestedAt, node, approvedBy, approvedAt } = state.card;
    return buildJobCard(state.view, { user, requestedAt, node, approvedBy, approvedAt });
  }

  private fingerprintOf(state: TailState): string {
    return fingerprint(this.render(state));
  }

  private async updateCard(state: TailState, ended: boolean, log: Logger): Promise<void> {
    const message = this.render(state);
    const print = fingerprint(message);
    if (print === state.fingerprint) return;
    // Coalesce bursts: the next pass picks the change up; the final state never waits.
    if (!ended && Date.now() - state.lastCardUpdate < this.cardIntervalMs) return;
    await this.limiter.take('chat.update', this.abort.signal);
    try {
      await this.options.client.chat.update({
        channel: state.card.channel,
        ts: state.card.ts,
        text: message.text,
        blocks: message.blocks,
      });
    } catch (error) {
      if (!isPermanentSlackError(error)) throw error;
      // The card is gone or cannot be edited: retrying would loop forever; the thread still gets replies.
      log.error({ err: messageOf(error) }, 'job card cannot be updated; giving up on this version of it');
    }
    state.lastCardUpdate = Date.now();
    state.fingerprint = print;
    await this.options.store.saveCardFingerprint(state.jobId, print);
  }

  private async postReply(state: TailState, reply: PlannedReply, log: Logger): Promise<void> {
    const { store } = this.options;
    const claim = await store.claimReply(state.jobId, reply.key);
    if (!claim.claimed) {
      if (claim.state === CLAIMED)
        log.warn({ reply: reply.key }, 'a reply was being posted when a reporter stopped; not posting it again');
      return;
    }
    try {
      await this.limiter.take('chat.postMessage', this.abort.signal);
      const result = await this.options.client.chat.postMessage({
        channel: state.card.channel,
        thread_ts: state.card.ts,
        text: reply.message.text,
        blocks: reply.message.blocks,
        unfurl_links: false,
        unfurl_media: false,
      });
      await store.recordReply(state.jobId, reply.key, result.ts ?? 'posted');
    } catch (error) {
      if (isPermanentSlackError(error)) {
        log.error({ err: messageOf(error), reply: reply.key }, 'thread reply refused by Slack; skipping it');
        await store.recordReply(state.jobId, reply.key, `refused:${slackErrorCode(error) ?? 'unknown'}`);
        return;
      }
      // The post certainly did not land (the client gave up or we are closing): let the next pass try again.
      await store.releaseReply(state.jobId, reply.key);
      throw error;
    }
  }

  /**
   * A job BullMQ calls finished (or no longer has) whose stream never said so: a worker died past
   * its retries. Publish the end it could not, so the card, the CLI and a replay all agree.
   */
  private async checkSilentEnd(state: TailState, log: Logger): Promise<void> {
    state.lastActivity = Date.now();
    const job = await this.options.queue.getJob(state.jobId);
    const bullState = job ? await job.getState() : 'missing';
    if (bullState !== 'completed' && bullState !== 'failed' && bullState !== 'missing' && bullState !== 'unknown') {
      state.suspectSince = undefined;
      return;
    }
    // Give the worker one more quiet period to publish its own final event.
    if (state.suspectSince === undefined) {
      state.suspectSince = Date.now();
      return;
    }
    const operation = OperationName.safeParse(state.card.operation);
    if (!operation.success) return;
    const base = {
      type: 'job' as const,
      jobId: state.jobId,
      operation: operation.data,
      cluster: state.card.cluster,
      attempt: Math.max(1, state.view.attempt),
      at: new Date().toISOString(),
    };
    const event: JobEvent =
      bullState === 'completed'
        ? { ...base, state: 'completed', result: job?.returnvalue }
        : {
            ...base,
            state: 'failed',
            error: {
              code: 'job.lost',
              message: job?.failedReason
                ? `the job ended without a final report: ${job.failedReason}`
                : 'the job is no longer in the queue and never reported an end',
              retryable: false,
              hint: 'Check the worker log for this job id, then run the command again; finished steps are skipped.',
            },
          };
    log.warn({ bullState }, 'job ended without a final event; publishing one so the card can close');
    await publishEvent(this.options.redis, this.prefix, event satisfies ProgressEvent);
  }
}

interface TailState {
  jobId: string;
  card: CardRecord;
  view: JobView;
  /** Last event folded into the view. */
  position: string;
  /** Last event whose replies are all posted (persisted). */
  cursor: string;
  fingerprint: string | undefined;
  lastCardUpdate: number;
  lastActivity: number;
  suspectSince?: number;
  failures: number;
}

/** Orders Redis stream ids ("<ms>-<seq>"); '0' sorts first. */
export function compareStreamIds(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split('-').map((p) => BigInt(p));
  const [bm = 0n, bs = 0n] = b.split('-').map((p) => BigInt(p));
  if (am !== bm) return am < bm ? -1 : 1;
  if (as !== bs) return as < bs ? -1 : 1;
  return 0;
}

function fingerprint(message: SlackMessage): string {
  return createHash('sha256').update(JSON.stringify(message)).digest('hex').slice(0, 32);
}

function slackErrorCode(error: unknown): string | undefined {
  const data = (error as { data?: { error?: unknown } } | undefined)?.data;
  return typeof data?.error === 'string' ? data.error : undefined;
}

/** Slack refused the call itself (ok:false), and not for a reason that passes. */
export function isPermanentSlackError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code !== 'slack_webapi_platform_error') return false;
  return !TRANSIENT_PLATFORM_ERRORS.has(slackErrorCode(error) ?? '');
}

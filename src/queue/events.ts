import type { Redis } from 'ioredis';
import { durableWrite } from './redis.js';
import { ProgressEvent } from '../operations/progress.js';

/**
 * A job's progress stream, under the queue's prefix like every key warren writes (before 0.x it was
 * `warren:events:<job>`, outside it: such streams age out within their week).
 */
export const eventsKey = (prefix: string, jobId: string): string => `${prefix}:events:${jobId}`;

/** Keep a job's events for a week: long enough to redraw a card after any restart. */
const EVENTS_TTL_SECONDS = 7 * 24 * 3600;
const EVENTS_MAX_LENGTH = 5000;

/** Appends one event to the job's stream; returns the stream id, which orders events for readers. */
export async function publishEvent(redis: Redis, prefix: string, event: ProgressEvent): Promise<string> {
  const checked = ProgressEvent.parse(event);
  const key = eventsKey(prefix, checked.jobId);
  // Durable under Sentinel: a graceful failover otherwise drops what the old primary took meanwhile.
  const [[addError, id]] = (await durableWrite(redis, 'progress event', () =>
    redis
      .multi()
      .xadd(key, 'MAXLEN', '~', String(EVENTS_MAX_LENGTH), '*', 'event', JSON.stringify(checked))
      .expire(key, EVENTS_TTL_SECONDS)
      .exec(),
  )) as [[Error | null, string]];
  if (addError) throw addError;
  return id;
}

export interface StoredEvent {
  id: string;
  event: ProgressEvent;
}

/** A stream entry that is not an event warren wrote: skipped, with why (for the reader's log). */
export interface SkippedEntry {
  id: string;
  code: 'event.malformed';
  reason: string;
}

/** One read of a job's stream: its events, and how far it got (past skipped entries too). */
export interface EventBatch {
  events: StoredEvent[];
  /** The id of the last entry read, valid or not: the next read starts after it. Undefined when nothing was read. */
  position: string | undefined;
  skipped: SkippedEntry[];
}

/**
 * Reads a job's entries after `afterId` ('0' for all). With `blockMs` it waits for new ones.
 * An entry that is not a valid event (no `event` field, not JSON, not the schema) is skipped and
 * reported in `skipped`, and `position` moves past it: one bad record must neither throw nor stop a
 * reader at that place for ever.
 */
export async function readEventBatch(
  redis: Redis,
  prefix: string,
  jobId: string,
  afterId = '0',
  options: { blockMs?: number; count?: number } = {},
): Promise<EventBatch> {
  const count = String(options.count ?? 500);
  const reply =
    options.blockMs === undefined
      ? await redis.xread('COUNT', count, 'STREAMS', eventsKey(prefix, jobId), afterId)
      : await redis.xread(
          'COUNT',
          count,
          'BLOCK',
          String(options.blockMs),
          'STREAMS',
          eventsKey(prefix, jobId),
          afterId,
        );
  const batch: EventBatch = { events: [], position: undefined, skipped: [] };
  if (!reply) return batch;
  for (const [, entries] of reply) {
    for (const [id, fields] of entries) {
      batch.position = id;
      const parsed = parseEntry(fields);
      if (parsed.ok) batch.events.push({ id, event: parsed.event });
      else batch.skipped.push({ id, code: 'event.malformed', reason: parsed.reason });
    }
  }
  return batch;
}

/** Reads a job's valid events after `afterId` (see readEventBatch; bad entries are left out). */
export async function readEvents(
  redis: Redis,
  prefix: string,
  jobId: string,
  afterId = '0',
  options: { blockMs?: number; count?: number } = {},
): Promise<StoredEvent[]> {
  return (await readEventBatch(redis, prefix, jobId, afterId, options)).events;
}

function parseEntry(fields: string[]): { ok: true; event: ProgressEvent } | { ok: false; reason: string } {
  const at = fields.indexOf('event');
  const raw = at >= 0 && at % 2 === 0 ? fields[at + 1] : undefined;
  if (raw === undefined) return { ok: false, reason: 'no event field' };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  const parsed = ProgressEvent.safeParse(json);
  if (!parsed.success)
    return {
      ok: false,
      reason: `not an event: ${parsed.error.issues
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; ')
        .slice(0, 300)}`,
    };
  return { ok: true, event: parsed.data };
}

/** True for the event that ends a job: nothing follows it. */
export function isFinalEvent(event: ProgressEvent): boolean {
  return event.type === 'job' && (event.state === 'completed' || event.state === 'failed');
}

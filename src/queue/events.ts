import type { Redis } from 'ioredis';
import { ProgressEvent, eventsKey } from './schema.js';

/** Keep a job's events for a week: long enough to redraw a card after any restart. */
const EVENTS_TTL_SECONDS = 7 * 24 * 3600;
const EVENTS_MAX_LENGTH = 5000;

/** Appends one event to the job's stream; returns the stream id, which orders events for readers. */
export async function publishEvent(redis: Redis, prefix: string, event: ProgressEvent): Promise<string> {
  const checked = ProgressEvent.parse(event);
  const key = eventsKey(prefix, checked.jobId);
  const [[addError, id]] = (await redis
    .multi()
    .xadd(key, 'MAXLEN', '~', String(EVENTS_MAX_LENGTH), '*', 'event', JSON.stringify(checked))
    .expire(key, EVENTS_TTL_SECONDS)
    .exec()) as [[Error | null, string]];
  if (addError) throw addError;
  return id;
}

export interface StoredEvent {
  id: string;
  event: ProgressEvent;
}

/**
 * Reads a job's events after `afterId` ('0' for all). With `blockMs` it waits for new ones.
 * Entries that fail validation are skipped: a reader must never crash on a bad record.
 */
export async function readEvents(
  redis: Redis,
  prefix: string,
  jobId: string,
  afterId = '0',
  options: { blockMs?: number; count?: number } = {},
): Promise<StoredEvent[]> {
  const count = String(options.count ?? 500);
  const reply =
    options.blockMs === undefined
      ? await redis.xread('COUNT', count, 'STREAMS', eventsKey(prefix, jobId), afterId)
      : await redis.xread('COUNT', count, 'BLOCK', String(options.blockMs), 'STREAMS', eventsKey(prefix, jobId), afterId);
  if (!reply) return [];
  const events: StoredEvent[] = [];
  for (const [, entries] of reply) {
    for (const [id, fields] of entries) {
      const raw = fields[fields.indexOf('event') + 1];
      if (raw === undefined) continue;
      const parsed = ProgressEvent.safeParse(JSON.parse(raw));
      if (parsed.success) events.push({ id, event: parsed.data });
    }
  }
  return events;
}

/** True for the event that ends a job: nothing follows it. */
export function isFinalEvent(event: ProgressEvent): boolean {
  return event.type === 'job' && (event.state === 'completed' || event.state === 'failed');
}

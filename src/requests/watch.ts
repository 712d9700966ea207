import type { WarrenConfig } from '../config/schema.js';
import type { WatchRecord } from '../operations/watch.js';
import type { WatchState } from '../status/watch-judge.js';

/** What the watch requests need from below, bound by each front end to its Redis (src/queue/watch.ts). */
export interface WatchPorts {
  config: WarrenConfig;
  saveRecord(record: WatchRecord): Promise<void>;
  record(cluster: string): Promise<WatchRecord | undefined>;
  removeRecord(cluster: string): Promise<boolean>;
  records(): Promise<{ records: WatchRecord[]; skipped: string[] }>;
  state(cluster: string): Promise<WatchState | undefined>;
  /** Upserts the cluster's repeatable tick (BullMQ job scheduler). */
  schedule(cluster: string, periodSeconds: number): Promise<void>;
  unschedule(cluster: string): Promise<void>;
  now(): number;
}

export interface WatchRequest {
  cluster: string;
  /** Where alerts go: a channel the bot answers in (config slack.channels). */
  channel: string;
  /** A Slack user id, or `cli:<user>`. */
  requestedBy: string;
}

export type WatchResult =
  { kind: 'watching'; record: WatchRecord; previous?: WatchRecord } | { kind: 'refused'; reason: string; hint: string };

/**
 * Starts watching a cluster, or moves its alerts to another channel: the record first, then the
 * scheduler (upserted, so asking twice changes nothing). The period is the config's.
 */
export async function requestWatch(ports: WatchPorts, request: WatchRequest): Promise<WatchResult> {
  if (!ports.config.clusters.some((c) => c.name === request.cluster))
    return {
      kind: 'refused',
      reason: `unknown cluster "${request.cluster}"`,
      hint: `Known clusters: ${ports.config.clusters.map((c) => c.name).join(', ')}.`,
    };
  if (!ports.config.slack.channels.includes(request.channel))
    return {
      kind: 'refused',
      reason: `warren does not post in channel ${request.channel}`,
      hint: `Name a channel of the config's slack.channels: ${ports.config.slack.channels.join(', ') || '(none)'}.`,
    };
  const previous = await ports.record(request.cluster);
  const record: WatchRecord = {
    cluster: request.cluster,
    channel: request.channel,
    requestedBy: request.requestedBy.slice(0, 80),
    createdAt: previous?.createdAt ?? new Date(ports.now()).toISOString(),
    periodSeconds: ports.config.watch.periodSeconds,
  };
  await ports.saveRecord(record);
  await ports.schedule(record.cluster, record.periodSeconds);
  return { kind: 'watching', record, ...(previous ? { previous } : {}) };
}

/** Stops watching: the scheduler first (no tick starts after), then the record and its state. */
export async function requestUnwatch(ports: WatchPorts, cluster: string): Promise<{ removed: boolean }> {
  await ports.unschedule(cluster);
  return { removed: await ports.removeRecord(cluster) };
}

/** Every watch with its last judged state (absent before the first reading). */
export async function listWatches(
  ports: WatchPorts,
): Promise<{ watches: { record: WatchRecord; state?: WatchState }[]; skipped: string[] }> {
  const { records, skipped } = await ports.records();
  const watches = await Promise.all(
    records.map(async (record) => {
      const state = await ports.state(record.cluster);
      return state ? { record, state } : { record };
    }),
  );
  return { watches, skipped };
}

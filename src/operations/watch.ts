import { z } from 'zod';
import { SafeName } from '../config/schema.js';
import type { WatchSettings } from '../config/schema.js';
import type { ClusterHealth } from '../rabbit/cluster-status.js';
import type { WatchAlert, WatchState } from '../status/watch-judge.js';

/** A watched cluster: where its alerts go, who asked, how often it is read. */
export const WatchRecord = z
  .object({
    cluster: SafeName,
    channel: z.string().regex(/^[CG][A-Z0-9]+$/),
    requestedBy: z.string().max(80),
    createdAt: z.string(),
    periodSeconds: z.number().int().positive(),
  })
  .strict();
export type WatchRecord = z.infer<typeof WatchRecord>;

/** The ports a watch tick orders (jobs/watch.ts): each one does the I/O, the tick none. */
export interface WatchTickPorts {
  /** The watch record; undefined once the cluster is unwatched. */
  record(): Promise<WatchRecord | undefined>;
  /** The last judged state, if any. */
  previous(): Promise<WatchState | undefined>;
  /** The cluster's health, read-only, bounded in time. */
  readHealth(): Promise<ClusterHealth>;
  /** Saves the new state and queues its alerts for Slack, at once. */
  commit(record: WatchRecord, state: WatchState, alerts: readonly WatchAlert[]): Promise<unknown>;
  now(): number;
  settings: WatchSettings;
}

/** What one tick did. */
export interface WatchTickResult {
  alerts: number;
  reading?: WatchState['reading'];
  skipped?: string;
}

export type WatchTick = (ports: WatchTickPorts) => Promise<WatchTickResult>;

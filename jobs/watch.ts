import type { WatchTickPorts, WatchTickResult } from '../src/operations/watch.js';
import { judgeHealth } from '../src/status/watch-judge.js';

/**
 * One reading of a watched cluster (read-only): the record, the last judged state, the health,
 * the judgement, and the new state saved with its alerts in one commit. No I/O here: the ports do it.
 */
export async function watchTick(ports: WatchTickPorts): Promise<WatchTickResult> {
  const record = await ports.record();
  if (!record) return { alerts: 0, skipped: 'not watched' };
  const previous = await ports.previous();
  const health = await ports.readHealth();
  const { state, alerts } = judgeHealth(previous, health, ports.now(), ports.settings);
  // Unwatched while it read: nothing to save, nobody to tell.
  if (!(await ports.record())) return { alerts: 0, skipped: 'unwatched during the reading' };
  await ports.commit(record, state, alerts);
  return { alerts: alerts.length, reading: state.reading };
}

import { toWarrenError } from '../errors.js';
import type { WarrenError } from '../errors.js';
import type { UpgradeReport } from '../status/read-upgrade-readiness.js';

/**
 * What an upgrade check needs from below, bound by each front end (to its SSH settings and the cluster's membership).
 */
export interface UpgradeCheckPorts {
  /** Reads every node and judges the path (src/status/read-upgrade-readiness.ts in production). */
  readUpgradeReadiness: (cluster: string, target?: string) => Promise<UpgradeReport>;
}

export interface UpgradeCheckRequest {
  cluster: string;
  /** `--to`: a series or a release; absent, the next series. */
  to?: string;
}

export type UpgradeCheckResult = { kind: 'report'; report: UpgradeReport } | { kind: 'unreadable'; error: WarrenError };

/**
 * The read-only upgrade-readiness report, as status is: no approval, no job, no lock (it changes
 * nothing and runs beside any operation). A node that cannot answer is in the report; only a
 * reading that could not start (a cluster the config lacks, a broken inventory) is 'unreadable'.
 */
export async function requestUpgradeCheck(
  ports: UpgradeCheckPorts,
  request: UpgradeCheckRequest,
): Promise<UpgradeCheckResult> {
  try {
    return { kind: 'report', report: await ports.readUpgradeReadiness(request.cluster, request.to) };
  } catch (thrown) {
    return { kind: 'unreadable', error: toWarrenError(thrown) };
  }
}

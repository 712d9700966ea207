import type { webApi } from '@slack/bolt';
import type { Redis } from 'ioredis';
import type { ApprovalStore } from '../approvals/store.js';
import type { AuditLog } from '../audit/store.js';
import type { WarrenConfig } from '../config/schema.js';
import type { CheckSafetyGates } from '../gates/schema.js';
import type { Logger } from '../log/logger.js';
import type { BotMetrics } from '../observability/metrics.js';
import type { OperationsQueue } from '../queue/queue.js';
import type { OperationName } from '../operations/schema.js';
import type { ClusterHealth } from '../rabbit/cluster-status.js';
import type { UpgradeReport } from '../status/read-upgrade-readiness.js';
import type { WatchPorts } from '../requests/watch.js';
import type { AfterAck } from './after-ack.js';
import type { Block, SlackText } from './messages/mrkdwn.js';
import type { PlanEntry } from './messages/plan.js';
import type { JobReporter } from './reporter.js';
import type { SlackStore } from './store.js';

/** Reads a cluster's health over SSH (src/status/read-cluster-status.ts in production). */
export type ReadClusterStatus = (
  config: WarrenConfig,
  cluster: string,
  /** `onEarly`: what is known when the reading is held up (see ReadStatusOptions). */
  options?: { logger?: Logger; onEarly?: (health: ClusterHealth) => void },
) => Promise<ClusterHealth>;

/** Reads a cluster's upgrade readiness over SSH (src/status/read-upgrade-readiness.ts in production). */
export type ReadUpgradeReadiness = (
  config: WarrenConfig,
  cluster: string,
  options?: { logger?: Logger; target?: string },
) => Promise<UpgradeReport>;

/** The dry run's commands per host (src/plan.ts in production); `node` for the node.* operations. */
export type PlanOperation = (
  config: WarrenConfig,
  operation: OperationName,
  cluster: string,
  node?: string,
) => PlanEntry[] | Promise<PlanEntry[]>;

/** What listeners and handlers work with; built once in bot.ts. */
export interface BotDeps {
  config: WarrenConfig;
  redis: Redis;
  queue: OperationsQueue;
  logger: Logger;
  client: webApi.WebClient;
  store: SlackStore;
  reporter: JobReporter;
  /** Where listeners put the work that follows their ack. */
  afterAck: AfterAck;
  /** Slash commands by outcome; Web API retries are counted on the client itself. */
  metrics: BotMetrics;
  readClusterStatus: ReadClusterStatus;
  readUpgradeReadiness: ReadUpgradeReadiness;
  planOperation: PlanOperation;
  /** Judges a destructive request before an approver is asked (src/gates/check.ts in production). */
  checkSafetyGates: CheckSafetyGates;
  /** Every request, decision, expiry and refusal of a destructive operation is appended here. */
  audit: AuditLog;
  approvals: ApprovalStore;
  /** The clock approvals are decided by (tests move it). */
  now: () => number;
  /** The watches' records and schedulers (src/queue/watch.ts). */
  watch: WatchPorts;
}

/** Who asked, where, and how to answer them privately. */
export interface SlackRequest {
  user: string;
  channel: string;
  teamDomain?: string;
  /** Answers only the requester (response_url): refusals, usage, busy notices, plans, lists. */
  reply: (message: { text: SlackText; blocks?: Block[]; replace_original?: boolean }) => Promise<void>;
}

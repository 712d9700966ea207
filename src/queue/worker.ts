import { UnrecoverableError, Worker } from 'bullmq';
import type { Job, JobJsonRaw } from 'bullmq';
import type { Redis } from 'ioredis';
import { ApprovalStore } from '../approvals/store.js';
import { buildAuditEntry } from '../audit/build-entry.js';
import { AuditLog } from '../audit/store.js';
import type { AuditEvent } from '../audit/schema.js';
import { resolveCluster } from '../config/load.js';
import type { Host, WarrenConfig } from '../config/schema.js';
import { WarrenError, messageOf, stackOf, toWarrenError } from '../errors.js';
import { MembershipStore, withAdded } from '../state/membership.js';
import type { MembershipRecorder } from '../steps/step.js';
import { createLogger } from '../log/logger.js';
import { observeCommand, observeEvent } from '../observability/metrics.js';
import type { WarrenMetrics } from '../observability/metrics.js';
import type { HealthReport } from '../observability/server.js';
import type { Logger } from '../log/logger.js';
import { SshSessionPool } from '../ssh/session.js';
import type { CommandObserver } from '../ssh/session.js';
import { publishEvent } from './events.js';
import { runOperation } from '../operations/run-operation.js';
import type { OperationRegistry } from '../operations/operation.js';
import { JobData, isDestructive, isOperatorRunnable } from '../operations/schema.js';
import { QUEUE_NAME } from './queue.js';
import type { ProgressEvent } from '../operations/progress.js';

export interface WorkerOptions {
  config: WarrenConfig;
  /** The operations this worker runs (jobs/index.ts), given by the process that starts it: src/ never imports jobs/. */
  operations: OperationRegistry;
  connection: Redis;
  prefix?: string;
  logger?: Logger;
  /** Jobs at once; each holds a different cluster (one operation per cluster is enforced at enqueue). */
  concurrency?: number;
  /** Sees every remote command (tests). */
  observer?: CommandObserver;
  /** Prometheus metrics to feed from every event and remote command. */
  metrics?: WarrenMetrics;
  /** How long a job's lock lives without renewal: a worker killed mid-job is noticed after this. */
  lockDurationMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface RunningWorker {
  worker: Worker<JobData>;
  close(): Promise<void>;
  /**
   * Cancels a job this worker runs: the command running now finishes, no other starts, and the
   * job fails with job.cancelled (not retried). False when this worker does not run that job.
   */
  cancel(jobId: string, reason?: string): boolean;
}

function jobEvent(
  data: JobData,
  jobId: string,
  attempt: number,
  fields: Partial<Extract<ProgressEvent, { type: 'job' }>>,
): ProgressEvent {
  return {
    type: 'job',
    jobId,
    operation: data.operation,
    cluster: data.cluster,
    attempt,
    at: new Date().toISOString(),
    state: 'started',
    ...fields,
  };
}

/** The inventory host a node.* job names; node.unknown (not retryable) when there is none. */
function targetHostOf(config: WarrenConfig, name: string): Host {
  const host = config.hosts.find((h) => h.name === name);
  if (!host) {
    throw new WarrenError('node.unknown', `no host "${name}" in the inventory`, {
      hint: `Known hosts: ${config.hosts.map((h) => h.name).join(', ')}.`,
    });
  }
  return host;
}

/** Who let a destructive job run, in the audit's words: the approver, or `cli:<user>` for --yes. */
function actorOf(data: JobData): string {
  const auth = data.authorization;
  if (auth?.kind === 'approval') return auth.approvedBy;
  if (auth?.kind === 'cli-yes') return `cli:${auth.user || 'unknown'}`;
  return data.origin.kind === 'cli' ? `cli:${data.origin.user || 'unknown'}` : data.origin.user;
}

/**
 * What lets a destructive job run, checked in Redis rather than taken from the job (anyone who can
 * write to Redis can write a job):
 * - an approval: the record it names exists, is approved, for exactly this operation, cluster and
 *   node, by the approver and for the requester the job names, and no other job used it (this job's
 *   own retries and takeovers may: ApprovalStore.use, atomic);
 * - --yes: the job says it comes from the CLI of the user it names. Nothing in Redis can prove more:
 *   the CLI itself writes to Redis, so Redis write access is the CLI's trust (docs: the trust boundary).
 * Anything else fails as approval.invalid, unrecoverable.
 */
async function verifyAuthorization(
  approvals: ApprovalStore,
  data: JobData,
  jobId: string,
  config: Pick<WarrenConfig, 'clusters'>,
): Promise<void> {
  if (!isDestructive(data.operation)) return;
  const auth = data.authorization;
  const refuse = (why: string): never => {
    throw new WarrenError(
      'approval.invalid',
      `${data.operation} ${data.cluster}${data.node ? ` ${data.node}` : ''} was not run: ${why}`,
      {
        hint:
          'Ask for it again (Slack: a new approval card; CLI: --yes). A job ' +
          'whose approval does not hold was not queued by warren: check who can ' +
          'write to Redis.',
      },
    );
  };
  if (auth === undefined) return refuse('it carries no authorization');
  if (auth.kind === 'operator') {
    // Only where the config says so now (not when the job was queued): a setting taken back holds at once.
    const setting = config.clusters.find((c) => c.name === data.cluster)?.approval ?? 'required';
    if (!isOperatorRunnable(data.operation) || setting !== 'operator')
      refuse(`${data.cluster} has approval: ${setting} for ${data.operation}: an operator cannot run it alone`);
    if (data.origin.kind !== 'slack' || data.origin.user !== auth.user)
      refuse('an operator authorization on a job that does not come from that Slack user');
    return;
  }
  if (auth.kind === 'cli-yes') {
    if (data.origin.kind !== 'cli' || data.origin.user !== auth.user)
      refuse('a --yes authorization on a job that does not come from that CLI user');
    return;
  }
  if (data.origin.kind !== 'slack') return refuse('an approval on a job that does not come from Slack');
  const used = await approvals.use(
    auth.approvalId,
    {
      operation: data.operation,
      cluster: data.cluster,
      node: data.node,
      approvedBy: auth.approvedBy,
      requester: data.origin.user,
    },
    jobId,
  );
  if (!used.ok) refuse(`approval ${auth.approvalId}: ${used.reason}`);
}

/**
 * Appends the worker's audit entries of a destructive job, each at most once per job: a retry or a
 * job taken over from a dead worker starts again, but the log says "started" once (a Redis SET NX
 * per job and event decides, across workers). Until `verified()` is called, the actor is recorded
 * as `unverified:<name>`: a job whose authorization does not hold must not put its claimed name
 * in the log as the one who let it run.
 */
function workerAudit(redis: Redis, prefix: string, data: JobData, jobId: string) {
  const log = new AuditLog(redis, prefix);
  let verified = false;
  const audit = async (
    event: Extract<AuditEvent, 'started' | 'completed' | 'failed'>,
    detail?: string,
  ): Promise<void> => {
    if (!isDestructive(data.operation)) return;
    const first = await redis.set(`${prefix}:audit:job:${jobId}:${event}`, '1', 'EX', 90 * 24 * 3600, 'NX');
    if (first !== 'OK') return;
    const subject = {
      operation: data.operation,
      cluster: data.cluster,
      node: data.node,
      approvalId: data.authorization?.kind === 'approval' ? data.authorization.approvalId : undefined,
      jobId,
    };
    const actor = verified ? actorOf(data) : `unverified:${actorOf(data)}`.slice(0, 80);
    await log.append(
      buildAuditEntry(subject, event, { actor, via: 'worker' }, { atMs: Date.now(), ...(detail ? { detail } : {}) }),
    );
  };
  return Object.assign(audit, {
    verified: () => {
      verified = true;
    },
  });
}

/** The data a job is given when what Redis holds for it is not JSON: the processor fails it as job.invalid. */
const UNREADABLE = 'warrenUnreadableData';

/**
 * BullMQ parses a job's stored fields before any processor runs; one that is not JSON throws there,
 * outside every job, and the job would stay `active` for ever (picked up, thrown, stalled, again).
 * Here such a job is built with a marker as its data instead, so the processor fails it like any
 * other invalid payload: job.invalid, unrecoverable, logged.
 */
class WarrenWorker extends Worker<JobData> {
  protected override createJob(raw: JobJsonRaw, jobId: string): Job<JobData> {
    try {
      return super.createJob(raw, jobId);
    } catch (error) {
      const json = (text: string | undefined, fallback: string): string =>
        text !== undefined && isJson(text) ? text : fallback;
      return super.createJob(
        {
          ...raw,
          data: isJson(raw.data)
            ? raw.data
            : JSON.stringify({ [UNREADABLE]: messageOf(error), raw: String(raw.data).slice(0, 500) }),
          opts: json(raw.opts, '{}'),
          progress: json(raw.progress, '0'),
          ...(raw.parent === undefined ? {} : { parent: json(raw.parent, 'null') }),
        },
        jobId,
      );
    }
  }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs one job: validate, resolve the cluster, run the operation's steps, publish every change.
 * `signal` is the job's own (BullMQ makes one per job for a processor that takes it): aborted by
 * `cancel`, it stops the job between commands.
 */
async function processJob(
  job: Job<JobData>,
  options: WorkerOptions,
  logger: Logger,
  signal: AbortSignal | undefined,
): Promise<unknown> {
  const redis = options.connection;
  const raw = job.data as unknown;
  if (typeof raw === 'object' && raw !== null && UNREADABLE in raw) {
    logger.error(
      { code: 'job.invalid', jobId: job.id, reason: String((raw as Record<string, unknown>)[UNREADABLE]) },
      'job rejected: its data in Redis is not JSON',
    );
    // Stored as JSON from now on (the marker keeps the first 500 characters), so listing the queue
    // (`/rabbit jobs`, the dashboard, a card's silent-end check) does not throw on it as the worker did.
    await job.updateData(raw as unknown as JobData).catch(() => undefined);
    throw new UnrecoverableError('job.invalid: the job data in Redis is not JSON');
  }
  const parsed = JobData.safeParse(raw);
  if (!parsed.success) {
    logger.error(
      {
        code: 'job.invalid',
        jobId: job.id,
        issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
      },
      'job payload rejected',
    );
    throw new UnrecoverableError('job.invalid: the job payload does not match the schema');
  }
  const data = parsed.data;
  const jobId = String(job.id);
  const attempt = job.attemptsMade + 1;
  const maxAttempts = job.opts.attempts ?? 1;
  const definition = options.operations[data.operation];
  if (!definition) {
    logger.error({ jobId: job.id, operation: data.operation }, 'job names an operation this worker cannot run');
    throw new UnrecoverableError(
      `job.unknown_operation: this worker cannot run ${data.operation} (upgrade the worker)`,
    );
  }
  const jobLogger = logger.child({ jobId, operation: data.operation, cluster: data.cluster, attempt });
  const prefix = options.prefix ?? 'warren';
  const audit = workerAudit(redis, prefix, data, jobId);
  const membershipStore = new MembershipStore(redis, prefix);
  const membership: MembershipRecorder = {
    recordAdded: (host) => membershipStore.recordAdded(data.cluster, host),
    recordRemoved: (host) => membershipStore.recordRemoved(data.cluster, host),
    clear: () => membershipStore.clear(data.cluster),
  };
  const publish = async (event: ProgressEvent): Promise<void> => {
    await publishEvent(redis, prefix, event);
    if (options.metrics) observeEvent(options.metrics, event);
  };

  try {
    await verifyAuthorization(new ApprovalStore(redis, prefix), data, jobId, options.config);
    audit.verified();
    await audit('started');
    // The cluster as node.add/node.remove left it; a node.add works on the cluster with its target in.
    const target = data.node === undefined ? undefined : targetHostOf(options.config, data.node);
    const overrides = await membershipStore.read(data.cluster);
    const cluster = resolveCluster(
      options.config,
      data.cluster,
      data.operation === 'node.add' && target ? withAdded(overrides, target.name) : overrides,
    );
    // The target of a node.remove/reset is a member; it is in cluster.hosts unless state lost it.
    const hosts =
      target && !cluster.hosts.some((h) => h.name === target.name) ? [...cluster.hosts, target] : cluster.hosts;
    const shells = new SshSessionPool(hosts, options.config.ssh, {
      observer: (record) => {
        options.observer?.(record);
        if (options.metrics) observeCommand(options.metrics, record);
      },
      logger: jobLogger,
      ...(options.env ? { env: options.env } : {}),
      ...(signal ? { signal } : {}),
    });
    try {
      await publish(
        jobEvent(data, jobId, attempt, {
          state: 'started',
          steps: definition.steps.map((s) => ({ id: s.id, title: s.title })),
        }),
      );
      jobLogger.info('job started');
      let checkpoint = data.checkpoint;
      const result = await runOperation({
        definition,
        cluster,
        ...(target ? { target } : {}),
        membership,
        shells,
        // An approved (or --yes) add has accepted what the gates said the join wipes.
        options: data.operation === 'node.add' ? { ...data.options, allowWipe: true } : data.options,
        logger: jobLogger,
        ...(signal ? { signal } : {}),
        completedSteps: data.checkpoint.completedSteps,
        ...(data.checkpoint.stepData ? { stepData: data.checkpoint.stepData } : {}),
        report: async (report) => {
          await publish({
            type: 'step',
            jobId,
            operation: data.operation,
            cluster: data.cluster,
            at: new Date().toISOString(),
            ...report,
          });
        },
        // Both halves of the checkpoint are kept together: each save writes the whole of it.
        saveCheckpoint: async (completedSteps) => {
          checkpoint = { ...checkpoint, completedSteps };
          await job.updateData({ ...data, checkpoint });
        },
        saveStepData: async (stepData) => {
          checkpoint = { ...checkpoint, stepData };
          await job.updateData({ ...data, checkpoint });
        },
      });
      await publish(jobEvent(data, jobId, attempt, { state: 'completed', result }));
      await audit('completed');
      jobLogger.info('job completed');
      return result;
    } finally {
      await shells.close();
    }
  } catch (thrown) {
    const error = toWarrenError(thrown);
    const willRetry = error.retryable && attempt < maxAttempts;
    await publish(jobEvent(data, jobId, attempt, { state: willRetry ? 'retrying' : 'failed', error: error.toJSON() }));
    jobLogger.warn(
      { code: error.code, host: error.host, step: error.step, willRetry, ...stackOf(error) },
      'job attempt failed',
    );
    if (willRetry) throw error;
    await audit('failed', `${error.code}: ${error.message}`);
    throw new UnrecoverableError(`${error.code}: ${error.message}`);
  }
}

/** A BullMQ worker for warren's operations; `close()` lets running jobs finish first. */
export function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const logger = options.logger ?? createLogger({ name: 'warren-worker' });
  // Three parameters: BullMQ then gives each job an AbortController of its own (worker.cancelJob aborts it).
  const worker = new WarrenWorker(QUEUE_NAME, (job, _token, signal) => processJob(job, options, logger, signal), {
    connection: options.connection,
    prefix: options.prefix ?? 'warren',
    concurrency: options.concurrency ?? 4,
    lockDuration: options.lockDurationMs ?? 30_000,
    // Look for jobs whose worker died as often as a lock can expire.
    stalledInterval: options.lockDurationMs ?? 30_000,
    // A worker killed mid-job hands the job on; allow that a few times before calling the job stuck.
    maxStalledCount: 3,
  });
  worker.on('error', (error) => logger.error({ err: error.message }, 'worker error'));
  return worker.waitUntilReady().then(() => ({
    worker,
    close: () => worker.close(),
    cancel: (jobId, reason) => worker.cancelJob(jobId, reason),
  }));
}

/** How often a worker writes its heartbeat, and how long Redis keeps it. */
const HEARTBEAT_EVERY_MS = 10_000;
const HEARTBEAT_TTL_SECONDS = 30;
export const heartbeatKey = (prefix: string, workerId: string): string => `${prefix}:heartbeat:worker:${workerId}`;

/**
 * Writes `<prefix>:heartbeat:worker:<id>` every 10 s (kept 30 s), so a bot or an operator can tell
 * whether any worker is alive. Returns a function that stops it and removes the key.
 */
export function startHeartbeat(connection: Redis, prefix: string, workerId: string): () => Promise<void> {
  const key = heartbeatKey(prefix, workerId);
  const beat = () => connection.set(key, new Date().toISOString(), 'EX', HEARTBEAT_TTL_SECONDS).catch(() => undefined);
  void beat();
  const timer = setInterval(() => void beat(), HEARTBEAT_EVERY_MS);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await connection.del(key).catch(() => undefined);
  };
}

/** Healthy when Redis answers within a second and the worker's loop runs. */
export async function workerHealth(running: RunningWorker, connection: Redis): Promise<HealthReport> {
  const redis = await Promise.race([
    connection.ping().then(
      () => ({ ok: true }),
      (error: unknown) => ({ ok: false, detail: messageOf(error) }),
    ),
    new Promise<{ ok: boolean; detail: string }>((resolve) =>
      setTimeout(() => resolve({ ok: false, detail: 'no answer within 1 s' }), 1000).unref(),
    ),
  ]);
  const loop = running.worker.isRunning() ? { ok: true } : { ok: false, detail: 'the worker is not taking jobs' };
  return { healthy: redis.ok && loop.ok, checks: { redis, worker: loop } };
}

import type { AuditEntry } from '../../../src/audit/schema.js';
import { WarrenError } from '../../../src/errors.js';
import type { GateReport, GateRequest } from '../../../src/gates/schema.js';
import type { EnqueueResult } from '../../../src/queue/enqueue.js';
import { JobData } from '../../../src/operations/schema.js';
import type { JobRequest } from '../../../src/operations/schema.js';
import type { RequestPorts } from '../../../src/requests/ports.js';
import type { PlannedCommand } from '../../../src/steps/step.js';

/** Every call the request layer made, in order, by port. */
export type PortCall =
  | { port: 'plan'; operation: string; cluster: string; node?: string | undefined }
  | { port: 'checkGates'; request: GateRequest }
  | { port: 'enqueue'; request: JobRequest; jobId?: string | undefined }
  | { port: 'runningOperation'; cluster: string }
  | { port: 'appendAudit'; entry: AuditEntry };

export interface RecordingPortsOptions {
  /** The job holding the cluster, as the queue would say it (runningOperation and the enqueue). */
  running?: string;
  /** The job the enqueue finds holding the cluster, though runningOperation said none (a race). */
  busyAtEnqueue?: string;
  gates?: Partial<GateReport>;
  /** Thrown by checkGates, e.g. node.unknown. */
  gatesThrow?: Error;
  plan?: PlannedCommand[];
}

export const NOW = Date.parse('2026-11-25T10:00:00.000Z');

/** Ports that record what was asked and answer as told: the cheapest faithful stand-in for Redis, the queue and SSH. */
export function recordingPorts(
  options: RecordingPortsOptions = {},
): RequestPorts & { calls: PortCall[]; audits: () => AuditEntry[] } {
  const calls: PortCall[] = [];
  return {
    calls,
    audits: () => calls.flatMap((c) => (c.port === 'appendAudit' ? [c.entry] : [])),
    plan: (operation, cluster, node) => {
      calls.push({ port: 'plan', operation, cluster, node });
      return Promise.resolve(
        options.plan ?? [
          { step: 'rabbit:reset-node', host: node ?? 'mq1', command: 'rabbitmqctl -q reset </dev/null' },
        ],
      );
    },
    checkGates: (request) => {
      calls.push({ port: 'checkGates', request });
      if (options.gatesThrow) return Promise.reject(options.gatesThrow);
      return Promise.resolve({
        operation: request.operation,
        cluster: request.cluster,
        ...(request.node ? { node: request.node } : {}),
        allowed: true,
        checks: [{ id: 'cluster.minority', ok: true, detail: '2 of 3 nodes stay running' }],
        ...options.gates,
      });
    },
    enqueue: (request, enqueueOptions) => {
      calls.push({ port: 'enqueue', request, jobId: enqueueOptions?.jobId });
      const holder = options.running ?? options.busyAtEnqueue;
      const result: EnqueueResult = holder
        ? { status: 'busy', jobId: holder }
        : { status: 'queued', jobId: enqueueOptions?.jobId ?? 'job-1', data: JobData.parse(request) };
      return Promise.resolve(result);
    },
    runningOperation: (cluster) => {
      calls.push({ port: 'runningOperation', cluster });
      return Promise.resolve(options.running);
    },
    appendAudit: (entry) => {
      calls.push({ port: 'appendAudit', entry });
      return Promise.resolve();
    },
    now: () => NOW,
  };
}

export const nodeUnknown = (): WarrenError =>
  new WarrenError('node.unknown', 'mq9 is not a member of rmq-lab', { hint: 'Members of rmq-lab: mq1, mq2, mq3.' });

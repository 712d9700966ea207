import type { ResolvedCluster } from '../../src/config/load.js';
import { nodeNameOf } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import type { JobOptions } from '../../src/steps/schema.js';
import type { Shells } from '../../src/ssh/session.js';
import type { Host } from '../../src/config/schema.js';
import type { HostProgress, MembershipRecorder, NodeFacts, StepContext } from '../../src/steps/step.js';

/** A logger that writes nothing: tests assert on commands and reports, not log lines. */
export const silentLogger = createLogger({ level: 'silent' });

/** What preflight records for a node of the lab: Debian 12's RabbitMQ 3.10.8, no systemd. */
export function labFacts(
  cluster: ResolvedCluster,
  overrides: Partial<Omit<NodeFacts, 'host' | 'nodeName'>> = {},
): Map<string, NodeFacts> {
  return new Map<string, NodeFacts>(
    cluster.hosts.map((host) => [
      host.name,
      {
        host: host.name,
        nodeName: nodeNameOf(host),
        serviceManager: 'sysv',
        packageVersion: '3.10.8-1.1+deb12u1',
        rabbitmqVersion: '3.10.8',
        erlangVersion: '25.2.3',
        ...overrides,
      } satisfies NodeFacts,
    ]),
  );
}

/** The membership capability as the worker gives it, kept in memory: every call lands in `calls`. */
export class MemoryMembership implements MembershipRecorder {
  readonly calls: string[] = [];
  readonly added = new Set<string>();
  readonly removed = new Set<string>();

  recordAdded(host: string): Promise<void> {
    this.calls.push(`added ${host}`);
    this.added.add(host);
    this.removed.delete(host);
    return Promise.resolve();
  }

  recordRemoved(host: string): Promise<void> {
    this.calls.push(`removed ${host}`);
    this.removed.add(host);
    this.added.delete(host);
    return Promise.resolve();
  }

  clear(): Promise<void> {
    this.calls.push('cleared');
    this.added.clear();
    this.removed.clear();
    return Promise.resolve();
  }
}

/** A step context over the given shells; every per-host report lands in `reports`. */
export function stepContext(
  cluster: ResolvedCluster,
  shells: Shells,
  options: {
    facts?: Map<string, NodeFacts>;
    job?: Partial<JobOptions>;
    target?: Host;
    membership?: MemoryMembership;
    signal?: AbortSignal;
    /** What the step saved in an earlier attempt (its StepCheckpoint); saves land in `saved`. */
    checkpoint?: unknown;
  } = {},
): { ctx: StepContext; reports: HostProgress[]; membership: MemoryMembership; saved: unknown[] } {
  const reports: HostProgress[] = [];
  const saved: unknown[] = [];
  let checkpoint = options.checkpoint;
  const membership = options.membership ?? new MemoryMembership();
  const ctx: StepContext = {
    cluster,
    ...(options.target ? { target: options.target } : {}),
    membership,
    shells,
    facts: options.facts ?? new Map<string, NodeFacts>(),
    options: { allowWipe: false, ...options.job },
    logger: silentLogger,
    signal: options.signal ?? new AbortController().signal,
    checkpoint: {
      read: () => checkpoint,
      save(value) {
        checkpoint = value;
        saved.push(structuredClone(value));
        return Promise.resolve();
      },
    },
    report(progress) {
      reports.push(progress);
      return Promise.resolve();
    },
  };
  return { ctx, reports, membership, saved };
}

import type { ResolvedCluster } from '../../src/config/load.js';
import { nodeNameOf } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import type { JobOptions } from '../../src/queue/schema.js';
import type { Shells } from '../../src/ssh/session.js';
import type { HostProgress, NodeFacts, StepContext } from '../../src/steps/step.js';

/** A logger that writes nothing: tests assert on commands and reports, not log lines. */
export const silentLogger = createLogger({ level: 'silent' });

/** What preflight records for a node of the lab: Debian 12's RabbitMQ 3.10.8, no systemd. */
export function labFacts(cluster: ResolvedCluster, overrides: Partial<Omit<NodeFacts, 'host' | 'nodeName'>> = {}): Map<string, NodeFacts> {
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

/** A step context over the given shells; every per-host report lands in `reports`. */
export function stepContext(
  cluster: ResolvedCluster,
  shells: Shells,
  options: { facts?: Map<string, NodeFacts>; job?: Partial<JobOptions> } = {},
): { ctx: StepContext; reports: HostProgress[] } {
  const reports: HostProgress[] = [];
  const ctx: StepContext = {
    cluster,
    shells,
    facts: options.facts ?? new Map<string, NodeFacts>(),
    options: { allowWipe: false, ...options.job },
    logger: silentLogger,
    report(progress) {
      reports.push(progress);
      return Promise.resolve();
    },
  };
  return { ctx, reports };
}

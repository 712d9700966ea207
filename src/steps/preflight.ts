import { z } from 'zod';
import { nodeNameOf, shortHostnameOf } from '../config/load.js';
import type { ResolvedCluster } from '../config/load.js';
import type { Host } from '../config/schema.js';
import { WarrenError } from '../errors.js';
import { RABBITMQ_ENV_CONF, probeHostCommand } from '../rabbit/commands.js';
import type { ServiceManager } from '../rabbit/commands.js';
import { upstreamVersion } from '../rabbit/version.js';
import { onEveryHost, timedOnHost } from './step.js';
import type { NodeFacts, Step, StepContext } from './step.js';

const ProbeOutput = z.object({
  hostname: z.string(),
  init: z.string(),
  rabbitmq: z.string(),
  erlang: z.string(),
  /** The node name rabbitmq-env.conf sets (NODENAME or RABBITMQ_NODENAME); empty when it sets none. */
  nodename: z.string().default(''),
  resolves: z.array(z.string()),
  unresolved: z.array(z.string()),
});

/**
 * What a probe keeps of a host's answer: values no longer than a DNS name, and no more peers than a cluster could have.
 */
const PROBE_VALUE_MAX = 255;
const PROBE_PEERS_MAX = 1000;

/**
 * Parses the probe's `key=value` lines; repeated keys (resolves/unresolved) collect into lists.
 * Bounded whatever the host prints: each value is cut to 255 characters, each list to 1000 entries.
 */
export function parseProbe(stdout: string, host = 'the host'): z.infer<typeof ProbeOutput> {
  const fields: Record<string, string> = {};
  const resolves: string[] = [];
  const unresolved: string[] = [];
  for (const line of stdout.split('\n')) {
    const at = line.indexOf('=');
    if (at < 0) continue;
    const key = line.slice(0, at).trim();
    const value = line
      .slice(at + 1)
      .trim()
      .slice(0, PROBE_VALUE_MAX);
    if (key === 'resolves') {
      if (resolves.length < PROBE_PEERS_MAX) resolves.push(value);
    } else if (key === 'unresolved') {
      if (unresolved.length < PROBE_PEERS_MAX) unresolved.push(value);
    } else fields[key] = value;
  }
  const parsed = ProbeOutput.safeParse({ ...fields, resolves, unresolved });
  if (!parsed.success) {
    throw new WarrenError(
      'status.unparseable',
      `the preflight probe on ${host} printed something unexpected (missing ` +
        `${parsed.error.issues.map((i) => i.path.join('.')).join(', ')})`,
      {
        host,
        hint: `Check that ${host} has a POSIX shell, hostname, dpkg-query and getent.`,
      },
    );
  }
  return parsed.data;
}

/** The package status line `install ok installed|3.10.8-1` -> the version, when installed. */
export function installedVersionOf(statusLine: string): string | undefined {
  const [status, version] = statusLine.split('|');
  return status?.trim() === 'install ok installed' && version ? version.trim() : undefined;
}

function peersOf(cluster: ResolvedCluster, host: Host): string[] {
  return cluster.hosts.filter((h) => h.name !== host.name).map(shortHostnameOf);
}

function factsFrom(host: Host, probe: z.infer<typeof ProbeOutput>): NodeFacts {
  const detected: ServiceManager = probe.init === 'systemd' ? 'systemd' : 'sysv';
  const packageVersion = installedVersionOf(probe.rabbitmq);
  return {
    host: host.name,
    nodeName: nodeNameOf(host),
    serviceManager: host.serviceManager === 'auto' ? detected : host.serviceManager,
    ...(packageVersion ? { packageVersion, rabbitmqVersion: upstreamVersion(packageVersion) } : {}),
    ...(probe.erlang ? { erlangVersion: upstreamVersion(probe.erlang).replace(/\+dfsg.*$/, '') } : {}),
  };
}

/**
 * Every node reachable (host keys checked before any command runs), named as its node name will be,
 * and able to resolve every peer; records versions and the service manager for later steps.
 * Read-only, so it runs on every attempt.
 */
export const preflight: Step<Host> = {
  id: 'rabbit:preflight',
  title: 'Preflight: reach every node, check names and peers, detect versions',
  skippedDetail: 'never skipped',

  plan(cluster) {
    return cluster.hosts.map((host) => ({
      step: this.id,
      host: host.name,
      command: probeHostCommand(peersOf(cluster, host)).text,
    }));
  },

  check(ctx) {
    return Promise.resolve([...ctx.cluster.hosts]);
  },

  async run(ctx: StepContext, hosts) {
    // Connect everywhere first: a host with the wrong key stops the job before any node is touched.
    await onEveryHost(hosts, (host) => ctx.shells.shell(host.name));
    await onEveryHost(hosts, (host) =>
      timedOnHost(
        ctx,
        host.name,
        async () => {
          const shell = await ctx.shells.shell(host.name);
          const probe = parseProbe(
            (await shell.run(probeHostCommand(peersOf(ctx.cluster, host)), { timeoutMs: 30_000 })).stdout,
            host.name,
          );
          const expected = shortHostnameOf(host);
          if (probe.hostname !== expected) {
            throw new WarrenError(
              'preflight.hostname_mismatch',
              `${host.name} calls itself "${probe.hostname}", but its node name would be rabbit@${expected}`,
              {
                host: host.name,
                hint:
                  `Set hosts[].hostname to "${probe.hostname}" for ${host.name}, or ` +
                  `rename the host to ${expected}.`,
              },
            );
          }
          // A leftover NODENAME (rabbit@localhost) names the node otherwise than its hostname says.
          if (probe.nodename) {
            const configured = probe.nodename.includes('@') ? probe.nodename : `${probe.nodename}@${probe.hostname}`;
            if (configured !== nodeNameOf(host)) {
              throw new WarrenError(
                'preflight.nodename_mismatch',
                `${host.name}'s RabbitMQ is named ${configured} by ` +
                  `${RABBITMQ_ENV_CONF}, but its node name must be ${nodeNameOf(host)}`,
                {
                  host: host.name,
                  hint:
                    `Remove the NODENAME (or RABBITMQ_NODENAME) line from ` +
                    `${RABBITMQ_ENV_CONF} on ${host.name} (or set it to ` +
                    `${nodeNameOf(host)}), restart RabbitMQ there if it runs (a running ` +
                    `node keeps its old name), then run the job again.`,
                },
              );
            }
          }
          if (probe.unresolved.length > 0) {
            throw new WarrenError(
              'preflight.unresolvable_peer',
              `${host.name} cannot resolve ${probe.unresolved.join(', ')}`,
              {
                host: host.name,
                hint:
                  `Every node must resolve every peer's short hostname: add ` +
                  `${probe.unresolved.join(', ')} to DNS or /etc/hosts on ${host.name}.`,
              },
            );
          }
          const facts = factsFrom(host, probe);
          ctx.facts.set(host.name, facts);
          return facts;
        },
        (facts) =>
          `${facts.nodeName}, ` +
          `${facts.rabbitmqVersion ? `RabbitMQ ${facts.rabbitmqVersion}` : 'rabbitmq-server not installed'}, ` +
          `Erlang ${facts.erlangVersion ?? 'not installed'}, ` +
          `${facts.serviceManager}`,
      ),
    );
    const versions = new Set([...ctx.facts.values()].map((f) => f.rabbitmqVersion).filter(Boolean));
    return {
      detail: `${hosts.length} nodes reachable${versions.size ? `, RabbitMQ ${[...versions].join(' / ')}` : ''}`,
    };
  },
};

import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import type { z } from 'zod';
import { WarrenError, messageOf } from '../errors.js';
import { WarrenConfig } from './schema.js';
import type { Cluster, Host } from './schema.js';

/** The config file: `--config`, else WARREN_CONFIG, else config/warren.yaml. */
export function resolveConfigPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? env.WARREN_CONFIG ?? 'config/warren.yaml';
}

/** One line per bad field: its exact path and what was expected. */
export function formatConfigIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const path =
      issue.path.length === 0
        ? '(top level)'
        : issue.path
            .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
            .join('')
            .replace(/^\./, '');
    return `${path}: ${issue.message}`;
  });
}

/** Parses and validates config text; a bad file is refused whole, with every bad field named. */
export function parseConfig(text: string, source = 'config'): WarrenConfig {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    throw new WarrenError('config.invalid', `${source} is not valid YAML: ${messageOf(error)}`, {
      hint: 'Fix the YAML syntax at the line shown.',
    });
  }
  const result = WarrenConfig.safeParse(raw);
  if (!result.success) {
    const lines = formatConfigIssues(result.error.issues);
    throw new WarrenError('config.invalid', `${source} is invalid:\n  ${lines.join('\n  ')}`, {
      hint: 'Correct the fields listed; config/warren.example.yaml shows every field.',
    });
  }
  return result.data;
}

export async function loadConfig(path: string): Promise<WarrenConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new WarrenError('config.not_found', `cannot read config ${path}: ${messageOf(error)}`, {
      hint: 'Pass --config <file> or set WARREN_CONFIG.',
    });
  }
  return parseConfig(text, path);
}

/** A cluster with its hosts resolved, in the cluster's node order. */
export interface ResolvedCluster {
  cluster: Cluster;
  seed: Host;
  hosts: Host[];
  /** Every node but the seed, in config order: the ones that join. */
  joiners: Host[];
}

/** Hosts added to and removed from a cluster by node.add / node.remove (see src/state/membership.ts). */
export interface MembershipChanges {
  added: readonly string[];
  removed: readonly string[];
}

/**
 * A cluster as warren works on it: the config's nodes minus the removed plus the added (added
 * hosts must be in the inventory); the seed is the config's unless it was removed, else the first
 * node left.
 */
export function resolveCluster(config: WarrenConfig, name: string, overrides?: MembershipChanges): ResolvedCluster {
  const cluster = config.clusters.find((c) => c.name === name);
  if (!cluster) {
    const known = config.clusters.map((c) => c.name).join(', ');
    throw new WarrenError('cluster.unknown', `unknown cluster "${name}"`, { hint: `Known clusters: ${known}.` });
  }
  const byName = new Map(config.hosts.map((h) => [h.name, h]));
  const removed = new Set(overrides?.removed ?? []);
  const nodeNames = [...new Set([...cluster.nodes.filter((n) => !removed.has(n)), ...(overrides?.added ?? [])])];
  const stranger = nodeNames.find((n) => !byName.has(n));
  if (stranger !== undefined) {
    throw new WarrenError(
      'config.invalid',
      `cluster ${name} counts ${stranger} as a member, but the inventory has no such host`,
      {
        hint:
          `Add ${stranger} back to hosts[], or remove it from the cluster ` +
          `(warren node remove ${name} ${stranger}).`,
      },
    );
  }
  const hosts = nodeNames.map((n) => byName.get(n)!);
  const seed = removed.has(cluster.seed) ? hosts[0] : byName.get(cluster.seed);
  if (!seed || hosts.length === 0)
    throw new WarrenError('config.invalid', `cluster ${name} has no nodes left`, {
      hint: `Add a node (warren node add ${name} <host>) or fix clusters[].nodes.`,
    });
  return { cluster, seed, hosts, joiners: hosts.filter((h) => h.name !== seed.name) };
}

/** The short hostname RabbitMQ will use for this host's node name. */
export function shortHostnameOf(host: Host): string {
  return host.hostname ?? host.name.split('.')[0];
}

export function nodeNameOf(host: Host): string {
  return `rabbit@${shortHostnameOf(host)}`;
}

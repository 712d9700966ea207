import { resolveCluster } from '../../src/config/load.js';
import type { ResolvedCluster } from '../../src/config/load.js';
import { WarrenConfig } from '../../src/config/schema.js';

/** Public host keys of three throwaway ed25519 keys (ssh-keygen -t ed25519), one per lab host. */
export const LAB_HOST_KEYS = [
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJhxOEVMXp6oq85USMOPbMP9jgNMBnNxJMXFy3nTaex+ root@lab1',
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFc+5GFNy9BGryxqcYMNBM+r7TlbbOlIJkH5EGYn0OYj root@lab2',
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA1/ceTLx/yUrqRlmbTY/Igo8N01uAJLMakURbuSNyPG root@lab3',
] as const;

/** `ssh-keygen -lf` of the keys above, in the same order. */
export const LAB_HOST_FINGERPRINTS = [
  'SHA256:jHIPI/ez9U79oYDHycuRO9l3L+726btUCo8CkCZfbhU',
  'SHA256:wMXNHesv+FBQ0uqOKgUB7XKNLW6BbBXg5u4Kg2sDCtA',
  'SHA256:xa9ZEolKvepJskwmx9eeojDKPtsJVwUs1Kdqdam3JXU',
] as const;

/** The raw config of an n-host lab (lab1..labN at 10.213.0.11..), one cluster "demo" seeded on lab1. */
export function labConfigInput(
  count = 3,
  cluster: Record<string, unknown> = {},
  host: (i: number) => Record<string, unknown> = () => ({}),
) {
  const hosts = Array.from({ length: count }, (_, i) => ({
    name: `lab${i + 1}`,
    address: `10.213.0.${11 + i}`,
    privateKeyPath: '/etc/warren/lab_key',
    hostKey: LAB_HOST_KEYS[i % LAB_HOST_KEYS.length],
    ...host(i),
  }));
  return {
    hosts,
    clusters: [{ name: 'demo', nodes: hosts.map((h) => h.name), seed: 'lab1', ...cluster }],
  };
}

/** A validated lab config (defaults applied, exactly as loadConfig would return it). */
export function labConfig(
  count = 3,
  cluster: Record<string, unknown> = {},
  host: (i: number) => Record<string, unknown> = () => ({}),
): WarrenConfig {
  return WarrenConfig.parse(labConfigInput(count, cluster, host));
}

/** The "demo" cluster of a lab config, hosts resolved. */
export function labCluster(
  count = 3,
  cluster: Record<string, unknown> = {},
  host: (i: number) => Record<string, unknown> = () => ({}),
): ResolvedCluster {
  return resolveCluster(labConfig(count, cluster, host), 'demo');
}

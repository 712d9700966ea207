import type { Redis } from 'ioredis';
import { z } from 'zod';
import { SafeName } from '../config/schema.js';

/**
 * What node.add and node.remove changed in a cluster beyond its config: the hosts added and the
 * hosts removed. The config stays the operator's intent; this is what the operations did since.
 */
export const MembershipOverrides = z
  .object({
    added: z.array(SafeName),
    removed: z.array(SafeName),
  })
  .strict();
export type MembershipOverrides = z.infer<typeof MembershipOverrides>;

export const NO_OVERRIDES: MembershipOverrides = { added: [], removed: [] };

export const membershipKey = (prefix: string, cluster: string, kind: 'added' | 'removed'): string =>
  `${prefix}:cluster:${cluster}:${kind}`;

/** A cluster's membership state in Redis: two sets per cluster, kept until a teardown clears them. */
export class MembershipStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** The cluster's overrides, validated (Redis data is untyped: a bad name must not reach a shell). */
  async read(cluster: string): Promise<MembershipOverrides> {
    const [added, removed] = await Promise.all([
      this.redis.smembers(membershipKey(this.prefix, cluster, 'added')),
      this.redis.smembers(membershipKey(this.prefix, cluster, 'removed')),
    ]);
    return MembershipOverrides.parse({ added: added.sort(), removed: removed.sort() });
  }

  /** The host joined: it counts as a member again even if an earlier remove took it out. */
  async recordAdded(cluster: string, host: string): Promise<void> {
    await this.redis
      .multi()
      .sadd(membershipKey(this.prefix, cluster, 'added'), SafeName.parse(host))
      .srem(membershipKey(this.prefix, cluster, 'removed'), host)
      .exec();
  }

  /** The host was forgotten by the cluster: it no longer counts, even if an earlier add put it in. */
  async recordRemoved(cluster: string, host: string): Promise<void> {
    await this.redis
      .multi()
      .sadd(membershipKey(this.prefix, cluster, 'removed'), SafeName.parse(host))
      .srem(membershipKey(this.prefix, cluster, 'added'), host)
      .exec();
  }

  /** After a teardown nothing is left to remember: a later create builds what the config says. */
  async clear(cluster: string): Promise<void> {
    await this.redis.del(membershipKey(this.prefix, cluster, 'added'), membershipKey(this.prefix, cluster, 'removed'));
  }
}

/** Adds one host to the overrides' added hosts (node.add runs on the cluster with its target in it). */
export function withAdded(overrides: MembershipOverrides, host: string): MembershipOverrides {
  return { added: [...new Set([...overrides.added, host])], removed: overrides.removed.filter((h) => h !== host) };
}

import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveCluster } from '../../../src/config/load.js';
import { connectRedis } from '../../../src/queue/redis.js';
import { MembershipStore, membershipKey, withAdded } from '../../../src/state/membership.js';
import { labConfig } from '../../support/inventory.js';

describe('membership state in Redis', () => {
  let redis: Redis;
  let prefix: string;
  beforeAll(() => {
    redis = connectRedis();
  });
  afterEach(async () => {
    await redis.del(membershipKey(prefix, 'demo', 'added'), membershipKey(prefix, 'demo', 'removed'));
  });
  afterAll(() => redis.disconnect());

  it('records added and removed hosts per cluster, each undoing the other, and clears them', async () => {
    prefix = `test-${randomUUID().slice(0, 8)}`;
    const store = new MembershipStore(redis, prefix);
    expect(await store.read('demo')).toEqual({ added: [], removed: [] });
    await store.recordRemoved('demo', 'lab3');
    await store.recordAdded('demo', 'lab4');
    expect(await store.read('demo')).toEqual({ added: ['lab4'], removed: ['lab3'] });
    expect(await redis.smembers(`${prefix}:cluster:demo:removed`)).toEqual(['lab3']);
    await store.recordAdded('demo', 'lab3');
    await store.recordRemoved('demo', 'lab4');
    expect(await store.read('demo')).toEqual({ added: ['lab3'], removed: ['lab4'] });
    await store.clear('demo');
    expect(await store.read('demo')).toEqual({ added: [], removed: [] });
  });

  it('refuses a stored name that is not a safe host name (Redis data is untyped)', async () => {
    prefix = `test-${randomUUID().slice(0, 8)}`;
    await redis.sadd(membershipKey(prefix, 'demo', 'added'), 'lab4; rm -rf /');
    await expect(new MembershipStore(redis, prefix).read('demo')).rejects.toThrow();
  });
});

describe('resolveCluster with membership changes', () => {
  const config = labConfig(5, { nodes: ['lab1', 'lab2', 'lab3'], seed: 'lab1' });

  it('is the config without overrides', () => {
    const cluster = resolveCluster(config, 'demo');
    expect(cluster.hosts.map((h) => h.name)).toEqual(['lab1', 'lab2', 'lab3']);
    expect(cluster.seed.name).toBe('lab1');
  });

  it('takes the removed out and puts the added in, keeping the seed', () => {
    const cluster = resolveCluster(config, 'demo', { added: ['lab4'], removed: ['lab3'] });
    expect(cluster.hosts.map((h) => h.name)).toEqual(['lab1', 'lab2', 'lab4']);
    expect(cluster.seed.name).toBe('lab1');
    expect(cluster.joiners.map((h) => h.name)).toEqual(['lab2', 'lab4']);
  });

  it('makes the first remaining node the seed when the seed was removed', () => {
    const cluster = resolveCluster(config, 'demo', { added: [], removed: ['lab1'] });
    expect(cluster.seed.name).toBe('lab2');
    expect(cluster.joiners.map((h) => h.name)).toEqual(['lab3']);
  });

  it('refuses an added host missing from the inventory, naming it', () => {
    expect(() => resolveCluster(config, 'demo', { added: ['lab9'], removed: [] })).toThrow(/lab9/);
  });

  it('refuses a cluster with no nodes left', () => {
    expect(() => resolveCluster(config, 'demo', { added: [], removed: ['lab1', 'lab2', 'lab3'] })).toThrow(
      /no nodes left/,
    );
  });

  it('withAdded puts a host in and takes it out of the removed', () => {
    expect(withAdded({ added: ['lab4'], removed: ['lab5', 'lab3'] }, 'lab5')).toEqual({
      added: ['lab4', 'lab5'],
      removed: ['lab3'],
    });
  });
});

import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parseConfig, resolveCluster } from '../../src/config/load.js';

/** The annotated example is what operators copy: it must stay valid as the schema moves. */
describe('config/warren.example.yaml', () => {
  it('passes the schema and resolves its cluster', async () => {
    const config = parseConfig(await readFile('config/warren.example.yaml', 'utf8'), 'config/warren.example.yaml');
    const cluster = resolveCluster(config, 'prod-mq');
    expect(cluster.hosts.map((h) => h.name)).toEqual(['mq1', 'mq2', 'mq3']);
    expect(cluster.seed.name).toBe('mq1');
    expect(config.hosts[0]?.privateKeyPassphraseEnv).toBe('WARREN_SSH_PASSPHRASE');
    expect(config.slack.users['U0123ABCD']).toEqual(['operator', 'approver']);
  });
});

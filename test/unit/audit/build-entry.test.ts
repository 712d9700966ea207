import { describe, expect, it } from 'vitest';
import { buildAuditEntry } from '../../../src/audit/build-entry.js';
import { AuditEntry } from '../../../src/audit/schema.js';

describe('buildAuditEntry', () => {
  it('stamps the time, names actor and channel, leaves out what is not there, and fits the schema', () => {
    const entry = buildAuditEntry(
      { operation: 'cluster.teardown', cluster: 'rmq-lab', node: undefined, approvalId: undefined, jobId: 'job-1' },
      'started',
      { actor: 'cli:alice', via: 'worker' },
      { atMs: 0 },
    );
    expect(entry).toEqual({
      at: '1970-01-01T00:00:00.000Z',
      event: 'started',
      operation: 'cluster.teardown',
      cluster: 'rmq-lab',
      actor: 'cli:alice',
      via: 'worker',
      jobId: 'job-1',
    });
    expect(AuditEntry.parse(entry)).toEqual(entry);
  });

  it('cuts a long detail to the 500 characters the audit keeps', () => {
    const entry = buildAuditEntry(
      { operation: 'node.reset', cluster: 'rmq-lab', node: 'mq3', approvalId: 'a1' },
      'refused',
      { actor: 'U0OPS', via: 'slack' },
      { atMs: 0, detail: 'x'.repeat(600) },
    );
    expect(entry.detail).toHaveLength(500);
    expect(entry).toMatchObject({ node: 'mq3', approvalId: 'a1' });
  });
});

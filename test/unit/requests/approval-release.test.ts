import { describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import type { Approval } from '../../../src/approvals/schema.js';
import { approvalJobId, releaseApprovedRequest } from '../../../src/requests/approval-release.js';
import { recordingPorts } from './recording-ports.js';

const approval = (fields: Partial<Approval> = {}): Approval => ({
  id: '0f0e0d0c-0b0a-4000-8000-000000000001',
  operation: 'node.add',
  cluster: 'rmq-lab',
  node: 'mq4',
  requester: 'U0OPERATOR',
  channel: 'C0OPS',
  cardTs: '1700000000.000100',
  createdAt: Date.parse('2026-11-25T10:00:00.000Z'),
  expiresAt: Date.parse('2026-11-25T10:30:00.000Z'),
  timeoutMinutes: 30,
  state: 'approved',
  decidedBy: 'U0APPROVER',
  card: { text: 'card', blocks: [] },
  ...fields,
});

describe('releaseApprovedRequest', () => {
  it(
    "queues under the approval's own job id, with the approval as " + 'authorization and its card as the origin',
    async () => {
      const ports = recordingPorts();
      const result = await releaseApprovedRequest(ports, approval(), 'U0APPROVER');
      expect(result).toMatchObject({ status: 'queued', jobId: approvalJobId(approval().id) });
      expect(ports.calls).toEqual([
        {
          port: 'enqueue',
          jobId: 'approval-0f0e0d0c-0b0a-4000-8000-000000000001',
          request: {
            operation: 'node.add',
            cluster: 'rmq-lab',
            node: 'mq4',
            options: { allowWipe: true },
            origin: { kind: 'slack', user: 'U0OPERATOR', channel: 'C0OPS', cardTs: '1700000000.000100' },
            authorization: {
              kind: 'approval',
              approvalId: '0f0e0d0c-0b0a-4000-8000-000000000001',
              approvedBy: 'U0APPROVER',
            },
            requestedAt: '2026-11-25T10:00:00.000Z',
          },
        },
      ]);
    },
  );

  it("a reset does not allow a wipe; busy is the enqueue's answer", async () => {
    const ports = recordingPorts({ busyAtEnqueue: 'job-7' });
    expect(
      await releaseApprovedRequest(ports, approval({ operation: 'node.reset', node: 'mq3' }), 'U0APPROVER'),
    ).toEqual({ status: 'busy', jobId: 'job-7' });
    expect(ports.calls[0]).toMatchObject({ request: { options: { allowWipe: false } } });
  });

  it('invalid job data throws the ZodError the release turns into "approved but not queued"', async () => {
    const ports = recordingPorts();
    await expect(releaseApprovedRequest(ports, approval({ node: undefined }), 'U0APPROVER')).rejects.toBeInstanceOf(
      ZodError,
    );
  });

  it('a delete of classic queues carries exactly the queues its card showed; without them, none', async () => {
    const shown = [{ vhost: '/', name: 'q1', messages: 3, consumers: 0 }];
    const ports = recordingPorts();
    const base = { operation: 'cluster.delete-classic-queues' as const, node: undefined };
    await releaseApprovedRequest(ports, approval({ ...base, classicQueues: shown }), 'U0APPROVER');
    await releaseApprovedRequest(
      ports,
      approval({ ...base, id: '0f0e0d0c-0b0a-4000-8000-000000000002' }),
      'U0APPROVER',
    );
    expect(ports.calls.map((c) => (c as { request: { options: unknown } }).request.options)).toEqual([
      { allowWipe: false, classicQueues: shown },
      { allowWipe: false, classicQueues: [] },
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { requestClusterCreate } from '../../../src/requests/cluster-create.js';
import { recordingPorts } from './recording-ports.js';

const SLACK_CARD = { kind: 'slack', user: 'U0OPERATOR', channel: 'C0OPS', cardTs: '1700000000.000100' } as const;

describe('requestClusterCreate', () => {
  it('queues the create with its origin; nothing but the enqueue is asked', async () => {
    const ports = recordingPorts();
    const result = await requestClusterCreate(ports, {
      cluster: 'rmq-lab',
      allowWipe: false,
      origin: SLACK_CARD,
      requestedAt: '2026-11-25T10:00:00.000Z',
    });
    expect(result).toMatchObject({ kind: 'queued', jobId: 'job-1' });
    expect(ports.calls).toEqual([
      {
        port: 'enqueue',
        jobId: undefined,
        request: {
          operation: 'cluster.create',
          cluster: 'rmq-lab',
          options: { allowWipe: false },
          origin: SLACK_CARD,
          requestedAt: '2026-11-25T10:00:00.000Z',
        },
      },
    ]);
  });

  it("busy is the enqueue's answer, with the holder's job id", async () => {
    const ports = recordingPorts({ busyAtEnqueue: 'job-7' });
    expect(
      await requestClusterCreate(ports, {
        cluster: 'rmq-lab',
        allowWipe: true,
        origin: { kind: 'cli', user: 'alice' },
        requestedAt: '2026-11-25T10:00:00.000Z',
      }),
    ).toEqual({ kind: 'busy', jobId: 'job-7' });
    expect(ports.calls.map((c) => c.port)).toEqual(['enqueue']);
  });
});

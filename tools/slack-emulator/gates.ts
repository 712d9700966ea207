import type { CheckSafetyGates, GateCheck, GateReport, GateRequest } from '../../src/gates/schema.js';

/** A gate checker for tests: records each request and answers with the checks it was given. */
export interface FakeGates extends CheckSafetyGates {
  calls: GateRequest[];
}

/**
 * Passes every gate unless `refuse` lists failing checks; `wipes` is what the card shows the
 * operation destroys. Never reads a node: the real checker is src/gates/check.ts.
 */
export function fakeGates(options: { refuse?: GateCheck[]; wipes?: string[] } = {}): FakeGates {
  const calls: GateRequest[] = [];
  const check = (_config: unknown, request: GateRequest): Promise<GateReport> => {
    calls.push(request);
    const passed: GateCheck[] = [
      { id: 'node.reachable', ok: true, detail: 'every node answered' },
      { id: 'cluster.minority', ok: true, detail: '2 of 3 nodes stay running' },
    ];
    const checks = [...passed, ...(options.refuse ?? [])];
    return Promise.resolve({
      operation: request.operation,
      cluster: request.cluster,
      ...(request.node ? { node: request.node } : {}),
      allowed: checks.every((c) => c.ok),
      checks,
      readFrom: 'mq1',
      ...(options.wipes ? { wipes: options.wipes } : {}),
    });
  };
  return Object.assign(check, { calls });
}

/**
 * For bots that must never run a destructive operation (the create demo, the ack benchmark):
 * every request is refused, saying why.
 */
export const refuseAllGates: CheckSafetyGates = (_config, request) =>
  Promise.resolve({
    operation: request.operation,
    cluster: request.cluster,
    ...(request.node ? { node: request.node } : {}),
    allowed: false,
    checks: [
      {
        id: 'node.reachable',
        ok: false,
        detail: 'this bot runs without a gate checker',
        remedy: 'use `warren bot`, which checks the gates on the nodes',
      },
    ],
  });

import { describe, expect, it } from 'vitest';
import { start } from '../../../src/steps/start.js';
import { declareStep } from '../../../src/steps/step.js';
import { FakeRabbitLab } from '../../support/fake-rabbit-lab.js';
import type { NodeSetup } from '../../support/fake-rabbit-lab.js';
import { CMD } from '../../support/expected-commands.js';
import { labCluster } from '../../support/inventory.js';
import { RecordingShells, scripted } from '../../support/recording-shells.js';
import { labFacts, stepContext } from '../../support/step-context.js';
import type { NodeFacts } from '../../../src/steps/step.js';

const CHECK = CMD.checkRunning;
const WAIT = CMD.waitRunning;

function setUp(
  setups: Record<string, NodeSetup>,
  facts?: (cluster: ReturnType<typeof labCluster>) => Map<string, NodeFacts>,
) {
  const cluster = labCluster(3);
  const lab = new FakeRabbitLab(cluster.hosts, setups);
  const shells = new RecordingShells(cluster.hosts, lab.respond);
  const { ctx, reports } = stepContext(cluster, shells, { facts: facts ? facts(cluster) : labFacts(cluster) });
  return { lab, shells, ctx, reports };
}

describe('rabbit:start', () => {
  it('starts only the nodes that are not running, with the init script', async () => {
    const { lab, shells, ctx } = setUp({ lab2: { running: false } });

    const outcome = await declareStep(start).execute(ctx);

    expect(shells.commandsOn('lab1')).toEqual([CHECK]);
    expect(shells.commandsOn('lab2')).toEqual([CHECK, CMD.sysvStart, WAIT]);
    expect(shells.commandsOn('lab3')).toEqual([CHECK]);
    expect(outcome?.detail).toBe('started lab2');
    expect(lab.node('lab2').app).toBe(true);
  });

  it('uses systemctl on a node preflight found systemd on', async () => {
    const { shells, ctx } = setUp({ lab3: { running: false, init: 'systemd' } }, (cluster) => {
      const facts = labFacts(cluster);
      facts.set('lab3', { ...facts.get('lab3')!, serviceManager: 'systemd' });
      return facts;
    });

    await declareStep(start).execute(ctx);

    expect(shells.commandsOn('lab3')).toEqual([CHECK, CMD.systemdStart, WAIT]);
  });

  it('falls back to the init script when there are no facts', async () => {
    const { shells, ctx } = setUp({ lab1: { running: false } }, () => new Map());

    await declareStep(start).execute(ctx);

    expect(shells.commandsOn('lab1')).toEqual([CHECK, CMD.sysvStart, WAIT]);
  });

  it('is skipped when every node runs', async () => {
    const { lab, shells, ctx } = setUp({});

    const outcome = await declareStep(start).execute(ctx);

    expect(outcome).toBeUndefined();
    expect(shells.commands.map((c) => c.command)).toEqual([CHECK, CHECK, CHECK]);
    expect([...lab.nodes.values()].map((n) => n.starts)).toEqual([0, 0, 0]);
  });

  it('starts the stopped nodes in parallel and restarts each exactly once', async () => {
    const { lab, ctx, reports } = setUp({ lab2: { running: false }, lab3: { running: false } });

    await declareStep(start).execute(ctx);

    expect([...lab.nodes.values()].map((n) => [n.host.name, n.starts])).toEqual([
      ['lab1', 0],
      ['lab2', 1],
      ['lab3', 1],
    ]);
    // Both hosts report running before either is done: the starts overlap.
    const order = reports.map((r) => `${r.host}:${r.state}`);
    expect(order.indexOf('lab3:running')).toBeLessThan(order.indexOf('lab2:done'));
  });

  it('fails with the deadline message when the app does not come up', async () => {
    const cluster = labCluster(1);
    const shells = new RecordingShells(
      cluster.hosts,
      scripted([
        ['lab1', /rabbitmq-diagnostics -q check_running/, { code: 69 }],
        ['lab1', /&& service rabbitmq-server start; fi$/, { code: 0 }],
        ['lab1', /^end=/, { code: 75, stderr: 'rabbit did not start within 150 s\n' }],
      ]),
    );
    const { ctx } = stepContext(cluster, shells, { facts: labFacts(cluster) });

    const run = declareStep(start).execute(ctx);

    await expect(run).rejects.toMatchObject({
      code: 'command.failed',
      host: 'lab1',
      retryable: true,
      evidence: { exitCode: 75, stderr: 'rabbit did not start within 150 s\n' },
    });
  });

  it('starts only the app of a node whose VM runs with its app stopped, without restarting it', async () => {
    const { lab, shells, ctx, reports } = setUp({});
    lab.node('lab2').app = false;

    const outcome = await declareStep(start).execute(ctx);

    expect(shells.commandsOn('lab2')).toEqual([CHECK, CMD.sysvStart, WAIT]);
    expect(outcome?.detail).toBe('started lab2');
    expect(lab.node('lab2').app).toBe(true);
    expect(lab.node('lab2').starts).toBe(0);
    expect(reports.find((r) => r.host === 'lab2' && r.state === 'done')?.detail).toBe('started');
  });

  it('starts the app the same way on systemd, where systemctl start would leave it stopped', async () => {
    const { lab, shells, ctx } = setUp({ lab3: { init: 'systemd' } }, (cluster) => {
      const facts = labFacts(cluster);
      facts.set('lab3', { ...facts.get('lab3')!, serviceManager: 'systemd' });
      return facts;
    });
    lab.node('lab3').app = false;

    await declareStep(start).execute(ctx);

    expect(shells.commandsOn('lab3')).toEqual([CHECK, CMD.systemdStart, WAIT]);
    expect(lab.node('lab3').app).toBe(true);
    expect(lab.node('lab3').starts).toBe(0);
  });

  it('is a no-op when run again after recovering a stopped app', async () => {
    const { lab, shells, ctx } = setUp({});
    lab.node('lab1').app = false;
    await declareStep(start).execute(ctx);
    shells.commands.length = 0;

    const outcome = await declareStep(start).execute(ctx);

    expect(outcome).toBeUndefined();
    expect(shells.commands.map((c) => c.command)).toEqual([CHECK, CHECK, CHECK]);
  });

  it('fails on an unexpected check_running exit instead of guessing', async () => {
    const cluster = labCluster(1);
    const shells = new RecordingShells(
      cluster.hosts,
      scripted([['lab1', /rabbitmq-diagnostics -q check_running/, { code: 126, stderr: 'permission denied' }]]),
    );
    const { ctx } = stepContext(cluster, shells, { facts: labFacts(cluster) });

    await expect(declareStep(start).execute(ctx)).rejects.toMatchObject({
      code: 'command.failed',
      evidence: { exitCode: 126 },
    });
    expect(shells.commandsOn('lab1')).toEqual([CHECK]);
  });

  it(
    'recovers the stale-cookie trap: a VM that runs but refuses the CLI is ' +
      "stopped with signals and started with the file's cookie",
    async () => {
      const { lab, shells, ctx } = setUp({});
      lab.node('lab3').cookie = 'REWRITTENUNDERTHEVMXX';

      await declareStep(start).execute(ctx);

      expect(shells.commandsOn('lab3')).toEqual([CHECK, CMD.sysvStart, WAIT]);
      expect(lab.node('lab3')).toMatchObject({
        vm: true,
        app: true,
        vmCookie: 'REWRITTENUNDERTHEVMXX',
        stoppedWithoutCli: 1,
        starts: 1,
      });
    },
  );

  it('fails for good when the service start outlives its deadline, after stopping the VM it left behind', async () => {
    const cluster = labCluster(1);
    const shells = new RecordingShells(
      cluster.hosts,
      scripted([
        ['lab1', /rabbitmq-diagnostics -q check_running/, { code: 69 }],
        ['lab1', /&& service rabbitmq-server start; fi$/, { code: 124 }],
        ['lab1', /^if pgrep -u rabbitmq -x beam.smp/, { code: 0 }],
      ]),
    );
    const { ctx } = stepContext(cluster, shells, { facts: labFacts(cluster) });

    const error = await declareStep(start)
      .execute(ctx)
      .then(
        () => undefined,
        (e: unknown) => e,
      );

    expect(error).toMatchObject({
      code: 'start.timeout',
      host: 'lab1',
      retryable: false,
      message: 'RabbitMQ did not start on lab1 within 180 s; the VM it left was stopped',
    });
    expect(shells.commandsOn('lab1').at(-1)).toBe(CMD.stopVm);
    expect(JSON.stringify(error)).not.toContain('will retry');
  });
});

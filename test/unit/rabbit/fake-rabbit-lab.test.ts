import { describe, expect, it } from 'vitest';
import { FakeRabbitLab } from '../../support/fake-rabbit-lab.js';
import { CMD } from '../../support/expected-commands.js';
import { labCluster } from '../../support/inventory.js';

// The step tests trust the simulated node; these pin it to what RabbitMQ 3.10.8 was measured to do
// on the lab with the Erlang VM up and the rabbit app stopped (a worker that died after stop_app).
describe('FakeRabbitLab: a node whose VM runs with its app stopped', () => {
  function appStopped(init?: string) {
    const cluster = labCluster(1);
    const lab = new FakeRabbitLab(cluster.hosts, init ? { lab1: { init } } : {});
    lab.node('lab1').app = false;
    const run = (command: string) => lab.respond('lab1', command, undefined);
    return { lab, run };
  }

  it.each([
    ['cluster_status (guarded)', CMD.clusterStatus, 64],
    ['list_vhosts', CMD.listVhosts, 64],
    ['check_running (guarded)', CMD.checkRunning, 69],
    ['the await_startup loop, to its deadline', CMD.waitRunning, 75],
    ['service rabbitmq-server start', 'service rabbitmq-server start', 1],
    ['rabbitmqctl ping', 'rabbitmqctl -q ping </dev/null', 0],
  ])('answers %s with exit %s', (_what, command, code) => {
    const { lab, run } = appStopped();

    expect(run(command).code).toBe(code);
    expect(lab.node('lab1').app).toBe(false);
  });

  it('starts the app with start_app, idempotently, without restarting the VM', () => {
    const { lab, run } = appStopped();

    expect(run(CMD.startApp).code).toBe(0);
    expect(run(CMD.startApp).code).toBe(0);
    expect(lab.node('lab1')).toMatchObject({ vm: true, app: true, starts: 0 });
    expect(run(CMD.clusterStatus).code).toBe(0);
  });

  it("runs warren's start as start_app, on sysv and on systemd", () => {
    for (const [init, start] of [
      ['host-init.sh', CMD.sysvStart],
      ['systemd', CMD.systemdStart],
    ] as const) {
      const { lab, run } = appStopped(init);

      expect(run(start).code).toBe(0);
      expect(lab.node('lab1')).toMatchObject({ app: true, starts: 0 });
    }
  });

  it('leaves the app stopped on a plain systemctl start (the unit is active)', () => {
    const { lab, run } = appStopped('systemd');

    expect(run('systemctl start rabbitmq-server').code).toBe(0);
    expect(lab.node('lab1').app).toBe(false);
  });

  it("runs warren's start as the service start when no VM runs", () => {
    const { lab, run } = appStopped();
    lab.node('lab1').vm = false;
    lab.node('lab1').vmCookie = null;

    expect(run(CMD.sysvStart).code).toBe(0);
    expect(lab.node('lab1')).toMatchObject({ vm: true, app: true, starts: 1 });
  });
});

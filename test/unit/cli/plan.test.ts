import { NodeSSH } from 'node-ssh';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { planOperation } from '../../../src/plan.js';
import { CMD } from '../../support/expected-commands.js';
import { labConfig } from '../../support/inventory.js';

// `warren cluster create --dry-run` (the dry run) is planOperation rendered by the CLI; it lives here with the CLI
// tests.
describe('planOperation for cluster.create on 3 nodes', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('connects nowhere', () => {
    const connect = vi.spyOn(NodeSSH.prototype, 'connect');

    planOperation(labConfig(3), 'cluster.create', 'demo');

    expect(connect).not.toHaveBeenCalled();
  });

  it('lists, per host, the commands each step could run', () => {
    const plan = planOperation(labConfig(3), 'cluster.create', 'demo');

    const on = (host: string, step: string) =>
      plan.filter((p) => p.host === host && p.step === step).map((p) => p.command);
    expect(on('lab1', 'rabbit:preflight')).toEqual([CMD.probe('lab2 lab3')]);
    expect(on('lab3', 'rabbit:preflight')).toEqual([CMD.probe('lab1 lab2')]);
    expect(on('lab2', 'rabbit:install')).toEqual([CMD.aptInstall]);
    expect(on('lab2', 'rabbit:start')).toEqual([CMD.sysvStart, CMD.waitRunning]);
    expect(on('lab2', 'rabbit:join')).toEqual([CMD.stopApp, CMD.joinSeed, CMD.startApp]);
    expect(on('lab3', 'rabbit:join')).toEqual([CMD.stopApp, CMD.joinSeed, CMD.startApp]);
    expect(on('lab1', 'rabbit:join')).toEqual([CMD.metadataStoreStatus]);
    expect(on('lab1', 'rabbit:quorum-members')).toEqual([
      CMD.clusterStatus,
      CMD.listVhosts,
      CMD.listQueueMembers("'<vhost>'"),
      CMD.grow('rabbit@lab1'),
      CMD.grow('rabbit@lab2'),
      CMD.grow('rabbit@lab3'),
    ]);
    expect(on('lab1', 'rabbit:verify')).toEqual([
      CMD.clusterStatus,
      CMD.metadataStoreStatus,
      CMD.listVhosts,
      CMD.listQueueMembers("'<vhost>'"),
    ]);
  });

  it('never plans to stop, rewrite or join the seed', () => {
    const plan = planOperation(labConfig(3), 'cluster.create', 'demo');

    const onSeed = plan.filter((p) => p.host === 'lab1').map((p) => p.command);
    expect(onSeed).not.toContain(CMD.shutdown);
    expect(onSeed).not.toContain(CMD.stopApp);
    expect(onSeed.some((c) => c.includes('join_cluster') || c.includes('base64 -d'))).toBe(false);
    expect(new Set(plan.filter((p) => p.step === 'rabbit:cookie').map((p) => p.host))).toEqual(
      new Set(['lab2', 'lab3']),
    );
  });

  it('keeps the step order of the job and says when each command runs', () => {
    const plan = planOperation(labConfig(3), 'cluster.create', 'demo');

    const steps = [...new Set(plan.map((p) => p.step))];
    expect(steps.indexOf('rabbit:cookie')).toBeLessThan(steps.indexOf('rabbit:start'));
    expect(steps.indexOf('rabbit:start')).toBeLessThan(steps.indexOf('rabbit:join'));
    expect(steps.at(0)).toBe('rabbit:preflight');
    expect(steps.at(-1)).toBe('rabbit:verify');
    expect(plan.find((p) => p.step === 'rabbit:cookie' && p.command === CMD.shutdown)?.when).toMatch(
      /^its cookie differs from the seed's/,
    );
    expect(plan.find((p) => p.command === CMD.joinSeed && p.host === 'lab3')?.when).toBe(
      'rabbit@lab3 is not yet a member (one node at a time)',
    );
  });

  it('shows the cookie only as a placeholder, for the live switch and the restart path', () => {
    const plan = planOperation(labConfig(3), 'cluster.create', 'demo');

    expect(plan.filter((p) => p.host === 'lab2' && p.step === 'rabbit:cookie').map((p) => p.command)).toEqual([
      `${CMD.switchCookieLive('SEED_COOKIE_SHA256')}  # stdin: the seed's cookie (base64), never shown`,
      CMD.shutdown,
      CMD.stopVm,
      `${CMD.writeCookie('SEED_COOKIE_SHA256')}  # stdin: the seed's cookie (base64), never shown`,
    ]);
  });

  it('says where an auto host would use systemctl instead of the init script it shows', () => {
    const plan = planOperation(
      labConfig(3, {}, (i) => (i === 1 ? { serviceManager: 'systemd' } : i === 2 ? { serviceManager: 'sysv' } : {})),
      'cluster.create',
      'demo',
    );

    const startOf = (host: string) =>
      plan.find((p) => p.host === host && p.step === 'rabbit:start' && p.command !== CMD.waitRunning);
    expect(startOf('lab1')).toMatchObject({
      command: CMD.sysvStart,
      when: 'RabbitMQ is not running (systemctl instead of service where systemd is PID 1)',
    });
    expect(startOf('lab2')).toMatchObject({ command: CMD.systemdStart, when: 'RabbitMQ is not running' });
    expect(startOf('lab3')).toMatchObject({ command: CMD.sysvStart, when: 'RabbitMQ is not running' });
  });

  it('plans no live switch when the cluster turns it off', () => {
    const plan = planOperation(labConfig(3, { liveCookieSwitch: false }), 'cluster.create', 'demo');

    expect(plan.filter((p) => p.host === 'lab2' && p.step === 'rabbit:cookie').map((p) => p.command)).toEqual([
      CMD.shutdown,
      CMD.stopVm,
      `${CMD.writeCookie('SEED_COOKIE_SHA256')}  # stdin: the seed's cookie (base64), never shown`,
    ]);
  });

  it('plans the pinned version and a configured policy pattern, quoted', () => {
    const plan = planOperation(
      labConfig(3, { packageVersion: '3.10.8-1.1+deb12u1', replication: 'ha-all', haPolicyPattern: "^(it's)$" }),
      'cluster.create',
      'demo',
    );

    expect(plan.filter((p) => p.step === 'rabbit:install').map((p) => p.command)).toEqual([
      `${CMD.aptInstall}=3.10.8-1.1+deb12u1`,
      `${CMD.aptInstall}=3.10.8-1.1+deb12u1`,
      `${CMD.aptInstall}=3.10.8-1.1+deb12u1`,
    ]);
    expect(plan.filter((p) => p.step === 'rabbit:replication')).toEqual([
      {
        step: 'rabbit:replication',
        host: 'lab1',
        command: `rabbitmqctl -q set_policy ha-all '^(it'\\''s)$' '{"ha-mode":"all"}' </dev/null`,
        when: 'the policy is not set',
      },
    ]);
  });

  it('plans no replication command for replication none', () => {
    const plan = planOperation(labConfig(3, { replication: 'none' }), 'cluster.create', 'demo');

    expect(plan.filter((p) => p.step === 'rabbit:replication')).toEqual([]);
  });

  it('refuses an unknown cluster', () => {
    expect(() => planOperation(labConfig(3), 'cluster.create', 'prod')).toThrow(
      expect.objectContaining({ code: 'cluster.unknown' }),
    );
  });
});

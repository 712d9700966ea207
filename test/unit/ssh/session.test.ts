import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { WarrenError } from '../../../src/errors.js';
import {
  clusterStatusCommand,
  serviceStartCommand,
  waitRunningCommand,
  writeCookieCommand,
} from '../../../src/rabbit/commands.js';
import { sh } from '../../../src/ssh/quote.js';
import { Redactor } from '../../../src/ssh/redact.js';
import { SshSessionPool, judgeResult, wrapRemoteCommand } from '../../../src/ssh/session.js';
import { labCluster } from '../../support/inventory.js';
import type { CommandResult } from '../../../src/ssh/session.js';
import { fixture } from '../../support/fixtures.js';

function result(code: number | null, stderr = '', stdout = ''): CommandResult {
  return { code, signal: null, stdout, stderr, durationMs: 5 };
}

function judged(work: () => unknown): WarrenError {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(WarrenError);
    return error as WarrenError;
  }
  throw new Error('expected the command to be judged a failure');
}

describe('wrapRemoteCommand', () => {
  const hostile = `it's $(id) \`id\` ; *\n"x"`;

  it('gives a root command its own deadline and no sudo', () => {
    const wrapped = wrapRemoteCommand(sh`printf %s ${'a b'}`, 'root', 30_000);

    expect(wrapped).toBe(`timeout -k 5 30 sh -c 'printf %s '\\''a b'\\'''`);
  });

  it('runs a non-root command through sudo -n, so a password prompt fails instead of hanging', () => {
    const command = sh`rabbitmqctl -q stop_app </dev/null`;

    const wrapped = wrapRemoteCommand(command, 'deploy', 120_000);

    expect(wrapped).toBe(`sudo -n ${wrapRemoteCommand(command, 'root', 120_000)}`);
    expect(wrapped).toBe(`sudo -n timeout -k 5 120 sh -c 'rabbitmqctl -q stop_app </dev/null'`);
  });

  it.each([
    [1, 1],
    [999, 1],
    [1000, 1],
    [1001, 2],
    [150_500, 151],
    [600_000, 600],
  ])('rounds a %i ms deadline up to %i s', (timeoutMs, seconds) => {
    expect(wrapRemoteCommand(sh`true`, 'root', timeoutMs)).toBe(`timeout -k 5 ${seconds} sh -c true`);
  });

  it('survives the second layer of quoting: the remote shell gets the exact bytes', () => {
    const wrapped = wrapRemoteCommand(sh`printf %s ${hostile}`, 'root', 5000);

    const output = execFileSync('sh', ['-c', wrapped]).toString();

    expect(output).toBe(hostile);
  });

  it('ends a command that outlives its deadline with exit 124', () => {
    const wrapped = wrapRemoteCommand(sh`sleep 5`, 'root', 1000);

    const run = (): number => {
      try {
        execFileSync('sh', ['-c', wrapped]);
        return 0;
      } catch (error) {
        return (error as { status: number }).status;
      }
    };

    expect(run()).toBe(124);
  });
});

describe('judgeResult', () => {
  const command = sh`rabbitmqctl -q join_cluster rabbit@lab1 </dev/null`;
  const options = { timeoutMs: 120_000 };

  it('returns a zero exit as it came, whatever stderr says', () => {
    const ok = result(0, 'Warning: the node is already a member');

    expect(judgeResult('lab2', command, ok, options, new Redactor())).toBe(ok);
  });

  it('returns an exit code the caller expects as an answer', () => {
    const down = result(69, fixture('rabbitmq-3.10/cluster_status.on-stopped-node.exit69.txt'));

    expect(judgeResult('lab2', command, down, { ...options, okExitCodes: [69] }, new Redactor())).toBe(down);
  });

  it('fails any other exit code with the evidence', () => {
    const stderr = fixture('rabbitmq-3.10/join_cluster.cookie-mismatch.exit69.txt');

    const error = judged(() =>
      judgeResult(
        'lab2',
        command,
        result(69, stderr, 'Clustering node rabbit@lab2 with rabbit@lab1\n'),
        options,
        new Redactor(),
      ),
    );

    expect(error.code).toBe('command.failed');
    expect(error.message).toBe('rabbitmqctl failed on lab2 with exit code 69');
    expect(error.host).toBe('lab2');
    expect(error.evidence).toEqual({
      host: 'lab2',
      command: 'rabbitmqctl -q join_cluster rabbit@lab1 </dev/null',
      exitCode: 69,
      signal: null,
      stderr,
      stdout: 'Clustering node rabbit@lab2 with rabbit@lab1\n',
    });
  });

  it.each([
    [69, true],
    [75, true],
    [64, false],
    [1, false],
    [100, false],
    [null, true],
  ])('treats exit code %s as retryable: %s', (code, retryable) => {
    const error = judged(() => judgeResult('lab2', command, result(code), options, new Redactor()));

    expect(error.code).toBe('command.failed');
    expect(error.retryable).toBe(retryable);
  });

  it('reports exit 124 (timeout(1)) as a retryable timeout', () => {
    const error = judged(() => judgeResult('lab3', command, result(124), options, new Redactor()));

    expect(error.code).toBe('command.timeout');
    expect(error.retryable).toBe(true);
    expect(error.message).toBe('command timed out after 120 s on lab3');
  });

  it('reports a channel closed by the local deadline as a timeout', () => {
    const error = judged(() => judgeResult('lab3', command, result(null), options, new Redactor(), true));

    expect(error.code).toBe('command.timeout');
  });

  it('names the program, not the environment assignment before it', () => {
    const apt = sh`DEBIAN_FRONTEND=noninteractive apt-get install -y rabbitmq-server`;

    const error = judged(() =>
      judgeResult(
        'lab1',
        apt,
        result(100, fixture('debian-12/apt-get-install.unable-to-locate.exit100.stderr.txt')),
        options,
        new Redactor(),
      ),
    );

    expect(error.message).toBe('apt-get failed on lab1 with exit code 100');
  });

  it('names a guarded cluster_status by what it runs, not by the shell keyword in front', () => {
    const stderr =
      "Error: this command requires the 'rabbit' app to be running on the " +
      "target node. Start it with 'rabbitmqctl start_app'.\n";

    const error = judged(() =>
      judgeResult('lab3', clusterStatusCommand(), result(64, stderr), options, new Redactor()),
    );

    expect(clusterStatusCommand().text.startsWith('if ')).toBe(true);
    expect(error.message).toBe('rabbitmqctl cluster_status failed on lab3 with exit code 64');
    expect(error.message).not.toMatch(/^if /);
    expect(error.evidence?.command).toBe(clusterStatusCommand().text);
  });

  it.each([
    ['the start', serviceStartCommand('sysv'), 'service rabbitmq-server start (or start_app)', 1],
    ['the start on systemd', serviceStartCommand('systemd'), 'systemctl start rabbitmq-server (or start_app)', 1],
    ['the wait for the app', waitRunningCommand(150), 'rabbitmqctl await_startup', 75],
    ['the cookie write', writeCookieCommand('ab'.repeat(32)), 'cookie write', 1],
  ])('names %s for the operator', (_what, command, name, code) => {
    const error = judged(() => judgeResult('lab2', command, result(code), options, new Redactor()));

    expect(error.message).toBe(`${name} failed on lab2 with exit code ${code}`);
  });

  it('redacts the job secrets out of stderr and stdout', () => {
    const redactor = new Redactor();
    redactor.add('QWERTYUIOPASDFGHJKLZ');

    const error = judged(() =>
      judgeResult(
        'lab1',
        command,
        result(1, 'cookie QWERTYUIOPASDFGHJKLZ rejected', 'QWERTYUIOPASDFGHJKLZ'),
        options,
        redactor,
      ),
    );

    expect(error.evidence?.stderr).toBe('cookie [redacted] rejected');
    expect(error.evidence?.stdout).toBe('[redacted]');
  });

  it('keeps only the tail of a long stderr', () => {
    const stderr = `${'x'.repeat(10_000)}THE END`;

    const error = judged(() => judgeResult('lab1', command, result(1, stderr), options, new Redactor()));

    expect(error.evidence?.stderr).toHaveLength(4000);
    expect(error.evidence?.stderr.endsWith('THE END')).toBe(true);
  });
});

describe('SshSessionPool of a cancelled job', () => {
  it('opens no connection once the job is cancelled', async () => {
    const controller = new AbortController();
    controller.abort('operator');
    const pool = new SshSessionPool(
      labCluster(1).hosts,
      { connectTimeoutMs: 1000, commandTimeoutMs: 1000 },
      { signal: controller.signal },
    );

    await expect(pool.shell('lab1')).rejects.toMatchObject({
      code: 'job.cancelled',
      message: 'the job was cancelled: operator; connecting to lab1 was not started',
    });
    await pool.close();
  });
});

import { describe, expect, it } from 'vitest';
import { WarrenError } from '../../../src/errors.js';
import { sh } from '../../../src/ssh/quote.js';
import { labCluster } from '../../support/inventory.js';
import { RecordingShells, scripted } from '../../support/recording-shells.js';

// The recording fake stands in for SSH in every step test: these prove it fails the way the real shell does.
describe("RecordingShells (the step tests' stand-in for SSH)", () => {
  const { hosts } = labCluster(2);

  it('records host, exact command text and stdin, in order', async () => {
    const shells = new RecordingShells(hosts, scripted([[/lab/, /./, { code: 0, stdout: 'ok' }]]));

    await (await shells.shell('lab2')).run(sh`printf %s ${'a b'}`);
    await (await shells.shell('lab1')).run(sh`base64 -d`, { stdin: 'QUJD' });

    expect(shells.commands).toEqual([
      { host: 'lab2', command: "printf %s 'a b'" },
      { host: 'lab1', command: 'base64 -d', stdin: 'QUJD' },
    ]);
    expect(shells.connections).toEqual(['lab2', 'lab1']);
  });

  it('fails a non-zero exit with command.failed and redacted evidence, as judgeResult does for SSH', async () => {
    const shells = new RecordingShells(
      hosts,
      scripted([['lab1', /./, { code: 64, stderr: 'bad SECRETSECRET', stdout: '' }]]),
    );
    shells.redactor.add('SECRETSECRET');

    const run = (await shells.shell('lab1')).run(sh`rabbitmqctl -q join_cluster rabbit@lab2 </dev/null`);

    await expect(run).rejects.toMatchObject({
      code: 'command.failed',
      retryable: false,
      evidence: {
        host: 'lab1',
        command: 'rabbitmqctl -q join_cluster rabbit@lab2 </dev/null',
        exitCode: 64,
        stderr: 'bad [redacted]',
      },
    });
  });

  it('accepts the exit codes a caller declares as answers', async () => {
    const shells = new RecordingShells(hosts, scripted([['lab1', /./, { code: 69 }]]));

    const result = await (
      await shells.shell('lab1')
    ).run(sh`rabbitmqctl -q shutdown </dev/null`, { okExitCodes: [69] });

    expect(result.code).toBe(69);
  });

  it('refuses a connection the test marks as refused, without recording a command', async () => {
    const refusal = new WarrenError('ssh.host_key_mismatch', 'lab2 presented another key', { host: 'lab2' });
    const shells = new RecordingShells(hosts, scripted([]), new Map([['lab2', refusal]]));

    await expect(shells.shell('lab2')).rejects.toBe(refusal);
    expect(shells.commands).toEqual([]);
  });

  it('fails loudly on a command no rule answers, so a test cannot pass by accident', async () => {
    const shells = new RecordingShells(hosts, scripted([['lab1', /^true$/, { code: 0 }]]));

    const run = (await shells.shell('lab1')).run(sh`false`);

    await expect(run).rejects.toThrow('recording-shells: no scripted answer on lab1 for: false');
  });
});

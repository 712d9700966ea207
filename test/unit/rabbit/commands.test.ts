import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import * as commands from '../../../src/rabbit/commands.js';
import { deleteQueueMemberCommand, listQueueMembersCommand } from '../../../src/rabbit/quorum-queues.js';
import { wrapRemoteCommand } from '../../../src/ssh/session.js';
import { parseProbe } from '../../../src/steps/preflight.js';
import { fixture } from '../../support/fixtures.js';

/** True when /bin/sh parses the command line (sh -n: read, never run). */
function shParses(commandLine: string): boolean {
  try {
    execFileSync('sh', ['-n', '-c', commandLine], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

const HOSTILE_PATTERN = `^(?!amq\\.).*'; reboot; echo '$(id)`;

const BUILT = [
  ['probe', commands.probeHostCommand(['lab2', 'lab3'])],
  ['probe with no peers (one-node cluster)', commands.probeHostCommand([])],
  ['package status', commands.packageStatusCommand()],
  ['apt install', commands.aptInstallCommand()],
  ['apt install pinned', commands.aptInstallCommand('1:3.10.8-1.1+deb12u1')],
  ['apt update', commands.aptUpdateCommand()],
  ['check_running', commands.checkRunningCommand()],
  ['systemd start', commands.serviceStartCommand('systemd')],
  ['sysv start', commands.serviceStartCommand('sysv')],
  ['wait running', commands.waitRunningCommand(150)],
  ['shutdown', commands.shutdownCommand()],
  ['cookie hash', commands.cookieHashCommand()],
  ['read cookie', commands.readCookieCommand()],
  ['write cookie', commands.writeCookieCommand('ab'.repeat(32))],
  ['live cookie switch', commands.switchCookieLiveCommand('ab'.repeat(32))],
  ['cluster_status', commands.clusterStatusCommand()],
  ['stop_app', commands.stopAppCommand()],
  ['join_cluster', commands.joinClusterCommand('rabbit@lab1')],
  ['start_app', commands.startAppCommand()],
  ['list vhosts', commands.listVhostsCommand()],
  ['list queues of a hostile vhost', commands.listQueuesCommand("it's; reboot")],
  ['list policies', commands.listPoliciesCommand()],
  ['set policy with a hostile pattern', commands.setHaPolicyCommand(HOSTILE_PATTERN)],
  ['vhost queue types', commands.listVhostQueueTypesCommand()],
  ['default queue type of a hostile vhost', commands.setDefaultQueueTypeCommand('$(reboot)', 'quorum')],
] as const;

describe('command builders', () => {
  it.each(BUILT)('%s is valid sh, bare and as the remote side receives it', (_what, command) => {
    expect(shParses(command.text)).toBe(true);
    expect(shParses(wrapRemoteCommand(command, 'deploy', 60_000))).toBe(true);
  });

  it('keeps a hostile policy pattern one argument', () => {
    const text = commands
      .setHaPolicyCommand(HOSTILE_PATTERN)
      .text.replace(/^rabbitmqctl -q set_policy /, 'set -- ')
      .replace(' </dev/null', '; printf "%s\\n" "$#" "$2"');

    const output = execFileSync('sh', ['-c', text]).toString();

    expect(output).toBe(`3\n${HOSTILE_PATTERN}\n`);
  });

  it('runs every CLI given a vhost or queue name from a node as rabbitmq: the wrapper cannot re-expand it', () => {
    const hostile = '$(touch /tmp/warren-pwned)`id`';
    const carrying = [
      commands.listQueuesCommand(hostile),
      commands.listPoliciesCommand(hostile),
      commands.setDefaultQueueTypeCommand(hostile, 'quorum'),
      listQueueMembersCommand(hostile),
      listQueueMembersCommand(hostile, 'members-online'),
      deleteQueueMemberCommand(hostile, hostile, 'rabbit@lab1'),
    ];
    for (const command of carrying) {
      expect(command.text.startsWith('runuser -u rabbitmq -- rabbitmq'), command.text).toBe(true);
      // The name reaches the CLI as one word, exactly as given (the wrapper passes "$@" as the rabbitmq user).
      const words = execFileSync('sh', [
        '-c',
        command.text.replace(/^runuser -u rabbitmq -- /, 'printf "%s\\n" ').replace(' </dev/null', ''),
      ]).toString();
      expect(words.split('\n')).toContain(hostile);
    }
  });

  it('pins the package with = and the version as given', () => {
    expect(commands.aptInstallCommand('3.10.8-1.1+deb12u1').text).toBe(
      'DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 -o ' +
        'Dpkg::Options::=--force-confold install -y -q --no-install-recommends ' +
        'rabbitmq-server=3.10.8-1.1+deb12u1',
    );
  });

  it('gives every rabbitmqctl / rabbitmq-diagnostics run /dev/null as stdin (they swallow it otherwise)', () => {
    const cli = /(?:^|; |until |-- )rabbitmq(?:ctl|-diagnostics) /g;
    const texts = BUILT.map(([, c]) => c.text).filter((t) => t.match(cli) !== null);

    expect(texts.length).toBeGreaterThan(10);
    for (const text of texts) expect(text.split('</dev/null').length - 1, text).toBe(text.match(cli)?.length);
  });
});

describe('the preflight probe on a real shell', () => {
  it('prints what parseProbe reads, on this machine', () => {
    const stdout = execFileSync('sh', [
      '-c',
      commands.probeHostCommand(['localhost', 'no-such-host.invalid']).text,
    ]).toString();

    const probe = parseProbe(stdout);

    expect(probe.hostname).toBe(execFileSync('hostname', ['-s']).toString().trim());
    expect(probe.resolves).toEqual(['localhost']);
    expect(probe.unresolved).toEqual(['no-such-host.invalid']);
  });

  it('parses the output captured on Debian 12', () => {
    const probe = parseProbe(fixture('debian-12/probe.localhost-and-invalid-peer.stdout.txt'));

    expect(probe).toEqual({
      hostname: 'vm',
      init: 'process_api',
      rabbitmq: 'install ok installed|3.10.8-1.1+deb12u1',
      erlang: '1:25.2.3+dfsg-1+deb12u4',
      nodename: '',
      resolves: ['localhost'],
      unresolved: ['no-such-host.invalid'],
    });
  });
});

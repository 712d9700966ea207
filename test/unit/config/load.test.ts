import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  loadConfig,
  nodeNameOf,
  parseConfig,
  resolveCluster,
  resolveConfigPath,
  shortHostnameOf,
} from '../../../src/config/load.js';
import { WarrenError } from '../../../src/errors.js';
import { LAB_HOST_FINGERPRINTS, LAB_HOST_KEYS, labConfigInput } from '../../support/inventory.js';

/** Parses config text and returns the thrown WarrenError (the test fails if nothing is thrown). */
function refusal(text: string): WarrenError {
  try {
    parseConfig(text, 'warren.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(WarrenError);
    return error as WarrenError;
  }
  throw new Error('expected the config to be refused');
}

/** The "path: message" lines of a refused config, one per bad field. */
function badFields(input: unknown): string[] {
  const error = refusal(stringify(input));
  expect(error.code).toBe('config.invalid');
  return error.message
    .split('\n')
    .slice(1)
    .map((line) => line.trim());
}

/** The raw (unvalidated) config, loose enough to break on purpose. */
interface RawConfig {
  hosts: Record<string, unknown>[];
  clusters: Record<string, unknown>[];
  [key: string]: unknown;
}

/** A deep copy of the 3-host lab config with one change applied. */
function labWith(change: (config: RawConfig) => void): RawConfig {
  const config = structuredClone(labConfigInput(3)) as RawConfig;
  change(config);
  return config;
}

const nodesOf = (c: RawConfig): string[] => c.clusters[0].nodes as string[];

const VALID_YAML = `
ssh:
  connectTimeoutMs: 5000
hosts:
  - name: lab1
    address: 10.213.0.11
    privateKeyPath: /etc/warren/lab_key
    hostKey: ${LAB_HOST_KEYS[0]}
  - name: lab2
    address: 10.213.0.12
    port: 2222
    user: deploy
    privateKeyPath: /etc/warren/lab_key
    privateKeyPassphraseEnv: WARREN_SSH_PASSPHRASE
    hostKey: ${LAB_HOST_FINGERPRINTS[1]}
    hostname: rabbit-b
    serviceManager: systemd
clusters:
  - name: demo
    nodes: [lab1, lab2]
    seed: lab1
    replication: ha-all
    haPolicyPattern: '^ha\\.'
    packageVersion: 3.10.8-1.1+deb12u1
`;

describe('parseConfig', () => {
  it('accepts a valid file and fills the defaults', () => {
    const config = parseConfig(VALID_YAML);

    expect(config.ssh).toEqual({ connectTimeoutMs: 5000, commandTimeoutMs: 180_000, maxOutputBytes: 4 * 1024 * 1024 });
    expect(config.hosts[0]).toEqual({
      name: 'lab1',
      address: '10.213.0.11',
      port: 22,
      user: 'root',
      privateKeyPath: '/etc/warren/lab_key',
      hostKey: LAB_HOST_KEYS[0],
      serviceManager: 'auto',
    });
    expect(config.hosts[1]).toMatchObject({
      port: 2222,
      user: 'deploy',
      privateKeyPassphraseEnv: 'WARREN_SSH_PASSPHRASE',
      hostKey: LAB_HOST_FINGERPRINTS[1],
      hostname: 'rabbit-b',
      serviceManager: 'systemd',
    });
    expect(config.clusters[0]).toEqual({
      name: 'demo',
      nodes: ['lab1', 'lab2'],
      seed: 'lab1',
      replication: 'ha-all',
      haPolicyPattern: '^ha\\.',
      liveCookieSwitch: true,
      packageVersion: '3.10.8-1.1+deb12u1',
    });
    expect(config.slack).toEqual({ channels: [], users: {}, allowSelfApproval: false, approvalTimeoutMinutes: 15 });
  });

  it('defaults replication to auto and the policy pattern to the runbook one', () => {
    const config = parseConfig(stringify(labConfigInput(3)));

    expect(config.clusters[0]?.replication).toBe('auto');
    expect(config.clusters[0]?.haPolicyPattern).toBe('^(?!amq\\.).*');
  });

  it.each([
    [
      'a port out of range',
      (c: RawConfig) => (c.hosts[1].port = 70000),
      'hosts[1].port: Too big: expected number to be <=65535',
    ],
    [
      'a port that is a string',
      (c: RawConfig) => (c.hosts[2].port = '22'),
      'hosts[2].port: Invalid input: expected number, received string',
    ],
    [
      'a host key that is neither a key nor a fingerprint',
      (c: RawConfig) => (c.hosts[0].hostKey = 'AAAAC3NzaC1lZDI1NTE5'),
      'hosts[0].hostKey: an OpenSSH public key',
    ],
    [
      'an MD5 fingerprint',
      (c: RawConfig) => (c.hosts[1].hostKey = 'MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48'),
      'hosts[1].hostKey: an OpenSSH public key',
    ],
    [
      'a truncated SHA256 fingerprint',
      (c: RawConfig) => (c.hosts[1].hostKey = 'SHA256:jHIPI/ez9U79oYDHycuRO9l3L'),
      'hosts[1].hostKey: an OpenSSH public key',
    ],
    [
      'a shell metacharacter in the address',
      (c: RawConfig) => (c.hosts[1].address = '10.213.0.12;reboot'),
      'hosts[1].address: an IP address or DNS name',
    ],
    ['an upper-case user', (c: RawConfig) => (c.hosts[0].user = 'Root'), 'hosts[0].user: a Unix user name'],
    ['a hostile host name', (c: RawConfig) => (c.hosts[2].name = '$(reboot)'), 'hosts[2].name: letters, digits'],
    [
      'a hostname with a dot',
      (c: RawConfig) => (c.hosts[0].hostname = 'lab1.example.org'),
      'hosts[0].hostname: a short hostname',
    ],
    [
      'a lower-case env variable name',
      (c: RawConfig) => (c.hosts[0].privateKeyPassphraseEnv = 'my_pass'),
      'hosts[0].privateKeyPassphraseEnv: an environment variable name',
    ],
    [
      'an unknown service manager',
      (c: RawConfig) => (c.hosts[0].serviceManager = 'openrc'),
      'hosts[0].serviceManager: Invalid option',
    ],
    [
      'a missing privateKeyPath',
      (c: RawConfig) => delete c.hosts[1].privateKeyPath,
      'hosts[1].privateKeyPath: Invalid input: expected string, received undefined',
    ],
    [
      'an unknown replication mode',
      (c: RawConfig) => (c.clusters[0].replication = 'mirror'),
      'clusters[0].replication: Invalid option',
    ],
    [
      'a package version with a space',
      (c: RawConfig) => (c.clusters[0].packageVersion = '3.10.8 -y'),
      'clusters[0].packageVersion: a Debian package version',
    ],
    ['an empty node list', (c: RawConfig) => (c.clusters[0].nodes = []), 'clusters[0].nodes: Too small'],
    [
      'a seed outside the cluster',
      (c: RawConfig) => (c.clusters[0] = { ...c.clusters[0], nodes: ['lab1', 'lab2'], seed: 'lab3' }),
      'clusters[0].seed: seed "lab3" must be one of the cluster\'s nodes (lab1, lab2)',
    ],
    [
      'a node missing from the inventory',
      (c: RawConfig) => (nodesOf(c)[2] = 'lab9'),
      'clusters[0].nodes[2]: unknown host "lab9": expected one of lab1, lab2, lab3',
    ],
    [
      'a node listed twice',
      (c: RawConfig) => (nodesOf(c)[2] = 'lab2'),
      'clusters[0].nodes[2]: host "lab2" is listed twice',
    ],
    [
      'a duplicate host name',
      (c: RawConfig) => (c.hosts[2].name = 'lab1'),
      'hosts[2].name: duplicate host name "lab1"',
    ],
    [
      'a duplicate cluster name',
      (c: RawConfig) => c.clusters.push({ ...c.clusters[0] }),
      'clusters[1].name: duplicate cluster name "demo"',
    ],
    ['an unknown host field', (c: RawConfig) => (c.hosts[1].passwrd = 'x'), 'hosts[1]: Unrecognized key: "passwrd"'],
    [
      'a passphrase written into the file',
      (c: RawConfig) => (c.hosts[0].privateKeyPassphrase = 'hunter2'),
      'hosts[0]: Unrecognized key: "privateKeyPassphrase"',
    ],
    [
      'an unknown cluster field',
      (c: RawConfig) => (c.clusters[0].replicas = 3),
      'clusters[0]: Unrecognized key: "replicas"',
    ],
    ['an unknown top-level field', (c: RawConfig) => (c.token = 'xoxb-1'), '(top level): Unrecognized key: "token"'],
    ['an unknown ssh field', (c: RawConfig) => (c.ssh = { timeout: 5 }), 'ssh: Unrecognized key: "timeout"'],
    [
      'a Slack channel that is not an id',
      (c: RawConfig) => (c.slack = { channels: ['#ops'] }),
      'slack.channels[0]: a Slack channel id',
    ],
  ])('names the exact path of %s', (_what, change, expected) => {
    const lines = badFields(labWith(change));

    expect(
      lines.some((line) => line.startsWith(expected)),
      `refusal lines:\n${lines.join('\n')}`,
    ).toBe(true);
  });

  it('lists every bad field of a file at once, one line each', () => {
    const input = labWith((c: RawConfig) => {
      c.hosts[0].port = 0;
      c.hosts[1].hostKey = 'nope';
      c.clusters[0].replication = 'mirror';
    });

    const lines = badFields(input);

    expect(lines.map((l) => l.split(':')[0])).toEqual(['hosts[0].port', 'hosts[1].hostKey', 'clusters[0].replication']);
  });

  it('tells the operator where to look', () => {
    const error = refusal(stringify(labWith((c: RawConfig) => (c.hosts[0].port = 0))));

    expect(error.message.split('\n')[0]).toBe('warren.yaml is invalid:');
    expect(error.hint).toMatch(/warren\.example\.yaml/);
    expect(error.retryable).toBe(false);
  });

  it('refuses text that is not YAML, naming the line', () => {
    const error = refusal('hosts:\n  - name: lab1\n    address: [10.0.0.1\n');

    expect(error.code).toBe('config.invalid');
    expect(error.message).toMatch(/^warren\.yaml is not valid YAML: /);
    expect(error.message).toMatch(/line \d+/);
  });

  it('refuses an empty file', () => {
    const error = refusal('');

    expect(error.code).toBe('config.invalid');
    expect(error.message).toContain('(top level): Invalid input: expected object');
  });
});

describe('loadConfig', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'warren-config-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads and validates a file', async () => {
    const file = path.join(dir, 'warren.yaml');
    await writeFile(file, VALID_YAML);

    const config = await loadConfig(file);

    expect(config.hosts.map((h) => h.name)).toEqual(['lab1', 'lab2']);
  });

  it('refuses a missing file with config.not_found and how to point at one', async () => {
    const file = path.join(dir, 'missing.yaml');

    const loading = loadConfig(file);

    await expect(loading).rejects.toMatchObject({
      code: 'config.not_found',
      hint: 'Pass --config <file> or set WARREN_CONFIG.',
    });
    await expect(loading).rejects.toThrow(`cannot read config ${file}: ENOENT`);
  });

  it('names the file in a validation error', async () => {
    const file = path.join(dir, 'bad.yaml');
    await writeFile(file, 'hosts: []\nclusters: []\n');

    await expect(loadConfig(file)).rejects.toThrow(`${file} is invalid:`);
  });
});

describe('resolveConfigPath', () => {
  it('prefers --config, then WARREN_CONFIG, then config/warren.yaml', () => {
    expect(resolveConfigPath('/a.yaml', { WARREN_CONFIG: '/b.yaml' })).toBe('/a.yaml');
    expect(resolveConfigPath(undefined, { WARREN_CONFIG: '/b.yaml' })).toBe('/b.yaml');
    expect(resolveConfigPath(undefined, {})).toBe('config/warren.yaml');
  });
});

describe('resolveCluster', () => {
  it('resolves the seed and the hosts in the cluster order', () => {
    const config = parseConfig(stringify(labConfigInput(3, { nodes: ['lab3', 'lab1', 'lab2'], seed: 'lab2' })));

    const resolved = resolveCluster(config, 'demo');

    expect(resolved.seed.name).toBe('lab2');
    expect(resolved.hosts.map((h) => h.name)).toEqual(['lab3', 'lab1', 'lab2']);
  });

  it('refuses an unknown cluster and lists the known ones', () => {
    const config = parseConfig(stringify(labConfigInput(3)));

    expect(() => resolveCluster(config, 'prod')).toThrow(
      expect.objectContaining({ code: 'cluster.unknown', hint: 'Known clusters: demo.' }),
    );
  });
});

describe('node names', () => {
  it('uses the first label of the inventory name, or hosts[].hostname when set', () => {
    const config = parseConfig(
      stringify(
        labConfigInput(2, { seed: 'lab1.example.org' }, (i) =>
          i === 0 ? { name: 'lab1.example.org' } : { hostname: 'rabbit-b' },
        ),
      ),
    );

    expect(config.hosts.map(shortHostnameOf)).toEqual(['lab1', 'rabbit-b']);
    expect(config.hosts.map(nodeNameOf)).toEqual(['rabbit@lab1', 'rabbit@rabbit-b']);
  });
});

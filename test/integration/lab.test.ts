/**
 * Proves the test lab itself (tools/lab): two real hosts with their own identity, RabbitMQ running
 * as rabbit@labN, sshd with the host keys pinned in the written warren.yaml, and a clean teardown.
 * Needs root. Run: npx vitest run test/integration/lab.test.ts
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { WarrenConfig } from '../../src/config/schema.js';
import { labDown, labUp, type Lab } from '../../tools/lab/lab.js';
import { hostInits, pidsIn, stillThere } from '../../tools/lab/leftovers.js';

function run(file: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 20_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

describe('test lab (2 hosts)', () => {
  let lab: Lab;
  let scratch: string;

  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'lab-test-'));
    lab = await labUp(2);
  }, 120_000);

  afterAll(async () => {
    await labDown(lab?.dir); // no-op when the last test already took it down
    await rm(scratch, { recursive: true, force: true });
  }, 60_000);

  it('gives every host its own hostname, and names the peers', async () => {
    expect(lab.hosts).toEqual([
      { name: 'lab1', address: '10.213.0.11', index: 1, release: 'machine' },
      { name: 'lab2', address: '10.213.0.12', index: 2, release: 'machine' },
    ]);
    for (const { index, name } of lab.hosts) {
      const r = await lab.exec(index, 'hostname');
      expect(r).toMatchObject({ code: 0, stdout: `${name}\n` });
    }
    const peer = await lab.exec(
      1,
      'getent hosts lab2 && timeout 5 bash -c "exec 3<>/dev/tcp/lab2/22" && echo reachable',
    );
    expect(peer.code).toBe(0);
    expect(peer.stdout).toMatch(/^10\.213\.0\.12\s+lab2\nreachable\n$/);
  });

  it('gives every host its own random Erlang cookie, read on the machine side', async () => {
    const [c1, c2] = await Promise.all([lab.readCookie(1), lab.readCookie(2)]);
    expect(c1).toMatch(/^[A-Za-z0-9+/=]{40,}$/);
    expect(c2).toMatch(/^[A-Za-z0-9+/=]{40,}$/);
    expect(c1).not.toBe(c2);
    const inside = await lab.exec(
      1,
      'cat /var/lib/rabbitmq/.erlang.cookie; stat -c "%a %U" /var/lib/rabbitmq/.erlang.cookie',
    );
    expect(inside.stdout).toBe(`${c1}\n400 rabbitmq\n`);
  });

  it('runs RabbitMQ as rabbit@labN with its distribution on all interfaces (not the machine config)', async () => {
    const results = await Promise.all(
      lab.hosts.map((h) =>
        lab.exec(h.index, `rabbitmqctl -q eval 'node().' </dev/null; ls /etc/rabbitmq; ss -Hltn 'sport = :25672'`),
      ),
    );
    results.forEach((r, k) => {
      expect(r.code, r.stderr).toBe(0);
      const [node, ...rest] = r.stdout.trim().split('\n');
      expect(node).toBe(`rabbit@lab${k + 1}`);
      expect(rest[0]).toBe('rabbitmq-env.conf'); // Debian's template only: no rabbitmq.conf
      expect(rest.slice(1).join('\n')).toMatch(/0\.0\.0\.0:25672/);
    });
    const dpkg = await lab.ssh(1, "dpkg-query -W -f='${Status}' rabbitmq-server");
    expect(dpkg.stdout).toBe('install ok installed');
  });

  it('answers ssh with the host keys pinned in warren.yaml, which passes the schema', async () => {
    const config = WarrenConfig.parse(parse(await readFile(lab.configPath, 'utf8')));
    expect(config.hosts.map((h) => [h.name, h.address, h.port, h.user])).toEqual([
      ['lab1', '10.213.0.11', 22, 'root'],
      ['lab2', '10.213.0.12', 22, 'root'],
    ]);
    expect(config.clusters).toMatchObject([{ name: 'lab', nodes: ['lab1', 'lab2'], seed: 'lab1' }]);
    const [h1, h2] = config.hosts;
    if (h1 === undefined || h2 === undefined) throw new Error('two hosts expected');
    expect((await stat(h1.privateKeyPath)).isFile()).toBe(true);

    // The wrapper's own ssh (strict checking against the lab's known_hosts).
    expect(await lab.ssh(2, 'hostname')).toMatchObject({ code: 0, stdout: 'lab2\n' });

    // The pinned keys from the config are the hosts' real keys: right key accepted, wrong one refused.
    const sshWith = async (knownHost: string, address: string) => {
      const file = path.join(scratch, 'known_hosts');
      await writeFile(file, `${address} ${knownHost}\n`);
      return run('ssh', [
        '-F',
        '/dev/null',
        '-i',
        h1.privateKeyPath,
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        'BatchMode=yes',
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        `UserKnownHostsFile=${file}`,
        '-o',
        'GlobalKnownHostsFile=/dev/null',
        '-o',
        'ConnectTimeout=5',
        `root@${address}`,
        'hostname',
      ]);
    };
    expect(await sshWith(h1.hostKey, h1.address)).toMatchObject({ code: 0, stdout: 'lab1\n' });
    const wrong = await sshWith(h2.hostKey, h1.address);
    expect(wrong.code).toBe(255);
    expect(wrong.stderr).toMatch(/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/);
  });

  it('shares the machine with a lab of another name: its up and down leave this one running', async () => {
    const before = await hostInits(lab.name);
    const other = await labUp(1, { name: 'lt', startRabbit: false });
    try {
      expect(other.hosts).toEqual([
        { name: 'lt1', address: expect.stringMatching(/^10\.213\.\d+\.11$/) as unknown, index: 1, release: 'machine' },
      ]);
      expect(other.hosts[0]?.address).not.toBe(lab.hosts[0]?.address);
      expect((await other.ssh(1, 'hostname')).stdout.trim()).toBe('lt1');
    } finally {
      await other.down();
    }
    expect((await run('ip', ['netns', 'list'])).stdout).not.toMatch(/^lt\d+\b/m);
    expect(await hostInits(lab.name)).toEqual(before);
    for (const h of lab.hosts) expect((await lab.ssh(h.index, 'hostname')).stdout.trim()).toBe(h.name);
  }, 60_000);

  it("leaves its caller's descriptors behind: a lab that stays up holds no lock of the caller", async () => {
    // `flock LOCK cmd` hands its locked descriptor down to cmd; hosts outlive lab.sh and would
    // keep LOCK taken for as long as the lab runs (seen: a lab left up blocked every other lab test).
    const lock = path.join(scratch, 'caller.lock');
    const labSh = fileURLToPath(new URL('../../tools/lab/lab.sh', import.meta.url));
    const env = { ...process.env, LAB_NAME: 'lf', LAB_DIR: '/tmp/warren-lab-lf', LAB_START_RABBIT: '0' };
    const up = await new Promise<number>((resolve) => {
      execFile('flock', [lock, 'bash', labSh, 'up', '1'], { env, timeout: 60_000 }, (error) =>
        resolve(error === null ? 0 : 1),
      );
    });
    try {
      expect(up).toBe(0);
      expect((await run('flock', ['-n', lock, 'true'])).code).toBe(0);
    } finally {
      await labDown({ name: 'lf' });
    }
  }, 90_000);

  it('goes down leaving no netns, veth, bridge or process behind', async () => {
    // The hosts' own namespace ids, to look for survivors after the netns names are gone.
    const ids = await Promise.all(lab.hosts.map((h) => lab.exec(h.index, 'readlink /proc/1/ns/net /proc/1/ns/pid')));
    const netIds = new Set(ids.flatMap((r) => r.stdout.split('\n').filter((l) => l.startsWith('net:'))));
    const pidIds = new Set(ids.flatMap((r) => r.stdout.split('\n').filter((l) => l.startsWith('pid:'))));
    expect(netIds.size).toBe(2);
    expect(pidIds.size).toBe(2);
    const inits = await hostInits(lab.name);
    expect(inits).toHaveLength(2);

    await lab.down();

    expect((await run('ip', ['netns', 'list'])).stdout).not.toMatch(/^lab\d+\b/m);
    const links = (await run('ip', ['-o', 'link', 'show'])).stdout;
    expect(links).not.toMatch(/veth-lab\d+/);
    expect(links).not.toMatch(/\blabbr0\b/);
    expect(await pidsIn('net', netIds)).toEqual([]);
    expect(await pidsIn('pid', pidIds)).toEqual([]);
    expect(await stillThere(inits)).toEqual([]);
    expect(await hostInits(lab.name)).toEqual([]);
    await expect(stat(lab.configPath)).rejects.toThrow();
  });
});

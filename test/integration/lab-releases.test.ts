/**
 * Proves the lab's Debian release hosts (tools/lab): one lab with a host of each kind (the machine's
 * packages, bookworm, trixie, forky) runs each release's own RabbitMQ with its own identity, keeps
 * a release host's disk across crash + boot, and goes down leaving nothing, not even a mount of the
 * shared trees. Missing trees are built first (≈ 1 min each, in parallel). Needs root.
 * Run: flock /tmp/warren-labtest.lock npx vitest run test/integration/lab-releases.test.ts
 */
import { readFile, stat } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { WarrenConfig } from '../../src/config/schema.js';
import { labDown, labUp, type Lab } from '../../tools/lab/lab.js';
import { hostInits, mountsUnder, pidsIn, pidsRootedUnder, stillThere } from '../../tools/lab/leftovers.js';

const NAME = 'rel';
const CACHE = '/var/cache/warren-lab';

describe('test lab with Debian release hosts (machine, bookworm, trixie, forky)', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await labUp(4, { name: NAME, releases: ['machine', 'bookworm', 'trixie', 'forky'] });
  }, 900_000);

  afterAll(async () => {
    await labDown({ name: NAME });
  }, 60_000);

  it("runs each release's own Debian and RabbitMQ, as rabbit@NAMEi", async () => {
    expect(lab.hosts.map((h) => [h.name, h.release])).toEqual([
      ['rel1', 'machine'],
      ['rel2', 'bookworm'],
      ['rel3', 'trixie'],
      ['rel4', 'forky'],
    ]);
    const seen = await Promise.all(
      lab.hosts.map((h) =>
        lab.exec(
          h.index,
          `. /etc/os-release; echo "$VERSION_CODENAME"; rabbitmqctl version ` +
            `</dev/null; rabbitmqctl -q eval 'node().' </dev/null; dpkg-query -W ` +
            `-f='\${Version}' rabbitmq-server`,
        ),
      ),
    );
    expect(seen.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    expect(seen.map((r) => r.stdout.split('\n').slice(0, 3))).toEqual([
      ['bookworm', '3.10.8', 'rabbit@rel1'],
      ['bookworm', '3.10.8', 'rabbit@rel2'],
      ['trixie', '4.0.5', 'rabbit@rel3'],
      ['forky', '4.3.6', 'rabbit@rel4'],
    ]);
    // the release's own package, not the machine's
    expect(seen[2]?.stdout).toMatch(/\n4\.0\.5-[^\n]*$/);
    expect(seen[3]?.stdout).toMatch(/\n4\.3\.6-[^\n]*$/);
  });

  it('gives every host its own random cookie, 0400 to its own rabbitmq user (uids differ per release)', async () => {
    const cookies = await Promise.all(lab.hosts.map((h) => lab.readCookie(h.index)));
    expect(new Set(cookies).size).toBe(4);
    const inside = await Promise.all(
      lab.hosts.map((h) =>
        lab.exec(
          h.index,
          'cat /var/lib/rabbitmq/.erlang.cookie; echo; stat -c "%a %U" ' +
            '/var/lib/rabbitmq/.erlang.cookie; id -u rabbitmq',
        ),
      ),
    );
    inside.forEach((r, k) => {
      const [cookie, mode, uid] = r.stdout.split('\n').filter((l) => l !== '');
      expect(cookie).toBe(cookies[k]);
      expect(mode).toBe('400 rabbitmq');
      expect(uid).toMatch(/^\d+$/);
    });
    // trixie's rabbitmq is uid 101, the machine's is not: ownership was resolved inside the host
    expect(inside[2]?.stdout.trim().split('\n').pop()).toBe('101');
    expect(inside[0]?.stdout.trim().split('\n').pop()).not.toBe('101');
  });

  it('answers ssh with the host keys pinned in warren.yaml, and resolves every host of the lab', async () => {
    const config = WarrenConfig.parse(parse(await readFile(lab.configPath, 'utf8')));
    expect(config.hosts.map((h) => h.name)).toEqual(['rel1', 'rel2', 'rel3', 'rel4']);
    for (const h of lab.hosts)
      expect(await lab.ssh(h.index, 'hostname')).toMatchObject({ code: 0, stdout: `${h.name}\n` });
    const peers = await lab.ssh(
      4,
      'for h in rel1 rel2 rel3; do getent hosts $h >/dev/null && timeout 5 ' +
        'bash -c "exec 3<>/dev/tcp/$h/25672" && echo $h; done',
    );
    expect(peers.stdout).toBe('rel1\nrel2\nrel3\n');
  });

  it('writes into the host only: the shared tree keeps no cookie, key or host file of any host', async () => {
    await lab.exec(3, 'echo scratch > /root/written-here');
    await expect(stat(`${CACHE}/rootfs-trixie/root/written-here`)).rejects.toThrow();
    await expect(stat(`${CACHE}/rootfs-trixie/var/lib/rabbitmq/.erlang.cookie`)).rejects.toThrow();
    expect(await readFile(`${CACHE}/rootfs-trixie/etc/hostname`, 'utf8')).not.toMatch(/^rel\d/);
    expect(await readFile(`${CACHE}/rootfs-trixie/etc/warren-lab-tree`, 'utf8')).toMatch(
      /^suite=trixie\nrabbitmq-server=4\.0\.5-/,
    );
  });

  it('keeps a release host’s disk across crash and boot, and its RabbitMQ comes back', async () => {
    const cookie = await lab.readCookie(4);
    await lab.exec(4, 'echo kept > /root/before-crash');
    await lab.crash(4);
    expect((await lab.ssh(4, 'true', { timeoutMs: 15_000 })).code).toBe(255);
    await lab.boot(4);
    const r = await lab.ssh(4, "cat /root/before-crash; rabbitmqctl -q eval 'node().' </dev/null");
    expect(r).toMatchObject({ code: 0, stdout: 'kept\nrabbit@rel4\n' });
    expect(await lab.readCookie(4)).toBe(cookie);
  }, 200_000);

  it('stops and starts sshd, and isolates and heals a release host', async () => {
    await lab.stopSshd(3);
    expect((await lab.ssh(3, 'true')).code).toBe(255);
    expect((await lab.exec(3, "rabbitmqctl -q eval 'node().' </dev/null")).stdout).toBe('rabbit@rel3\n');
    await lab.startSshd(3);
    expect((await lab.ssh(3, 'hostname')).stdout).toBe('rel3\n');
    await lab.isolate(3);
    expect((await lab.exec(4, 'timeout 2 bash -c "exec 3<>/dev/tcp/rel3/22"')).code).not.toBe(0);
    await lab.heal(3);
    expect((await lab.exec(4, 'timeout 5 bash -c "exec 3<>/dev/tcp/rel3/22" && echo reachable')).stdout).toBe(
      'reachable\n',
    );
  }, 120_000);

  it('goes down leaving no netns, veth, bridge, mount or process behind', async () => {
    const ids = await Promise.all(lab.hosts.map((h) => lab.exec(h.index, 'readlink /proc/1/ns/net /proc/1/ns/pid')));
    const netIds = new Set(ids.flatMap((r) => r.stdout.split('\n').filter((l) => l.startsWith('net:'))));
    const pidIds = new Set(ids.flatMap((r) => r.stdout.split('\n').filter((l) => l.startsWith('pid:'))));
    expect(netIds.size).toBe(4);
    expect(pidIds.size).toBe(4);
    const inits = await hostInits(NAME);
    expect(inits).toHaveLength(4); // the release hosts' chrooted PID 1 too
    expect(await pidsRootedUnder(lab.dir)).not.toEqual([]);

    await lab.down();

    expect(await pidsIn('net', netIds)).toEqual([]);
    expect(await pidsIn('pid', pidIds)).toEqual([]);
    expect(await stillThere(inits)).toEqual([]);
    expect(await hostInits(NAME)).toEqual([]);
    expect(await pidsRootedUnder(lab.dir)).toEqual([]);
    expect(await mountsUnder(lab.dir)).toEqual([]);
    expect(await mountsUnder(CACHE)).toEqual([]);
    await expect(stat(`${lab.dir}/hosts`)).rejects.toThrow();
    await expect(stat(lab.configPath)).rejects.toThrow();
  });
});

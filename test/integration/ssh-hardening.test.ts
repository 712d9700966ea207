/**
 * The SSH session against a real sshd (issue 9, items 2 and 3): a host that prints without end is
 * cut off at the output cap with ssh.output_too_large, not buffered; a host pinned by its RSA or
 * ECDSA key is reached (the client offers only the pinned key's algorithms), a wrong pin is still
 * refused, and an sshd that offers only ssh-rsa (SHA-1) signatures or SHA-1 MACs is refused.
 * One lab host, RabbitMQ stopped (≈ 10 s). Run as root, under the lab lock:
 *   flock /tmp/warren-labtest.lock npx vitest run test/integration/ssh-hardening.test.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { Host } from '../../src/config/schema.js';
import { isWarrenError } from '../../src/errors.js';
import { sh } from '../../src/ssh/quote.js';
import { SshSessionPool, connectHost } from '../../src/ssh/session.js';
import { labUp, type Lab } from '../../tools/lab/lab.js';

const SETTINGS = { connectTimeoutMs: 10_000, commandTimeoutMs: 60_000 };
const MIB = 1024 * 1024;

/** Extra sshd instances inside the host, each on its own port with its own config. */
const ALT_DIR = '/tmp/warren-alt-sshd';

let lab: Lab;
let host: Host;
let localKeys: string;
const pubOf: Record<string, string> = {};

function sshdConfig(port: number, extra: string): string {
  return [
    `Port ${port}`,
    'ListenAddress 0.0.0.0',
    'HostKey /etc/ssh/ssh_host_ed25519_key',
    `HostKey ${ALT_DIR}/ssh_host_rsa_key`,
    `HostKey ${ALT_DIR}/ssh_host_ecdsa_key`,
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM yes',
    'UseDNS no',
    `PidFile ${ALT_DIR}/sshd-${port}.pid`,
    extra,
    '',
  ].join('\n');
}

async function startAltSshd(port: number, extra = ''): Promise<void> {
  const config = `${ALT_DIR}/sshd-${port}.conf`;
  const written = await lab.exec(
    1,
    `cat > ${config} && /usr/sbin/sshd -t -f ${config} && /usr/sbin/sshd -f ${config} -E ${ALT_DIR}/sshd-${port}.log`,
    { input: sshdConfig(port, extra) },
  );
  expect(written).toMatchObject({ code: 0 });
}

async function connectError(pinned: Host): Promise<unknown> {
  try {
    (await connectHost(pinned, SETTINGS)).dispose();
    return undefined;
  } catch (error) {
    return error;
  }
}

async function runsOn(pinned: Host): Promise<string> {
  const ssh = await connectHost(pinned, SETTINGS);
  try {
    return (await ssh.execCommand('hostname')).stdout.trim();
  } finally {
    ssh.dispose();
  }
}

beforeAll(async () => {
  lab = await labUp(1, { startRabbit: false });
  const config = await loadConfig(lab.configPath);
  host = config.hosts[0];
  // The lab gives its hosts an ed25519 key only: add an RSA and an ECDSA key, as a stock OpenSSH host has.
  const keys = await lab.exec(
    1,
    `rm -rf ${ALT_DIR} && mkdir -m 700 ${ALT_DIR} && ssh-keygen -q -t rsa ` +
      `-b 3072 -N '' -f ${ALT_DIR}/ssh_host_rsa_key && ssh-keygen -q -t ` +
      `ecdsa -b 256 -N '' -f ${ALT_DIR}/ssh_host_ecdsa_key && cut -d' ' ` +
      `-f1,2 ${ALT_DIR}/ssh_host_rsa_key.pub ` +
      `${ALT_DIR}/ssh_host_ecdsa_key.pub`,
  );
  expect(keys.code).toBe(0);
  [pubOf.rsa, pubOf.ecdsa] = keys.stdout.trim().split('\n');
  localKeys = mkdtempSync(path.join(tmpdir(), 'warren-wrong-pin-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '3072', '-N', '', '-f', path.join(localKeys, 'rsa')]);
  pubOf.wrongRsa = readFileSync(path.join(localKeys, 'rsa.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
  await startAltSshd(2201);
  // Only what the client must refuse: RSA with SHA-1 signatures; SHA-1 MACs under a non-AEAD cipher.
  await startAltSshd(2202, 'HostKeyAlgorithms ssh-rsa\nPubkeyAcceptedAlgorithms +ssh-rsa');
  await startAltSshd(2203, 'Ciphers aes128-ctr\nMACs hmac-sha1,hmac-sha1-etm@openssh.com');
}, 150_000);

afterAll(async () => {
  if (localKeys) rmSync(localKeys, { recursive: true, force: true });
  await lab?.down();
}, 60_000);

describe('output cap (real sshd)', () => {
  it(
    'cuts off a command that prints without end at 4 MiB: ' +
      'ssh.output_too_large in seconds, the remote command gone, memory ' +
      'bounded',
    async () => {
      const pool = new SshSessionPool([host], SETTINGS);
      try {
        const shell = await pool.shell(host.name);
        // Buffers live outside the JS heap: count both.
        const used = () => process.memoryUsage().heapUsed + process.memoryUsage().external;
        const heapBefore = used();
        let heapPeak = heapBefore;
        const sampler = setInterval(() => (heapPeak = Math.max(heapPeak, used())), 5);
        const started = performance.now();
        const error = await shell.run(sh`yes warren-output-cap-test`).then(
          () => undefined,
          (e: unknown) => e,
        );
        const seconds = (performance.now() - started) / 1000;
        clearInterval(sampler);
        heapPeak = Math.max(heapPeak, used());

        expect(isWarrenError(error) && error.code).toBe('ssh.output_too_large');
        expect(isWarrenError(error) && error.message).toBe(
          'yes on lab1 printed more than 4 MiB on stdout: it was cut off there',
        );
        expect(isWarrenError(error) && error.evidence?.stdout?.length).toBe(2000);
        expect(seconds).toBeLessThan(15);
        // What stays on the heap is the cap (twice: bytes, then the string), not what the host sent.
        expect(heapPeak - heapBefore).toBeLessThan(64 * MIB);
        console.log(
          `output cap: cut after ${seconds.toFixed(2)} s, heap + external peak +` +
            `${((heapPeak - heapBefore) / MIB).toFixed(1)} MiB`,
        );
        const left = await lab.exec(1, 'sleep 1; pgrep -x yes || echo none');
        expect(left.stdout.trim()).toBe('none');
      } finally {
        await pool.close();
      }
    },
    60_000,
  );

  it('fails a bounded 64 MiB answer too, and passes one just under the cap whole', async () => {
    const pool = new SshSessionPool([host], SETTINGS);
    try {
      const shell = await pool.shell(host.name);

      const big = await shell.run(sh`head -c ${64 * MIB} /dev/zero | tr '\\0' a`).then(
        () => undefined,
        (e: unknown) => e,
      );
      const fits = await shell.run(sh`head -c ${4 * MIB} /dev/zero | tr '\\0' b`);
      const small = await shell.run(sh`printf 'x%.0s' $(seq 100)`, { maxOutputBytes: 50 }).then(
        () => undefined,
        (e: unknown) => e,
      );

      expect(isWarrenError(big) && big.code).toBe('ssh.output_too_large');
      expect(fits.stdout).toHaveLength(4 * MIB);
      expect(fits.stdout.startsWith('bbb')).toBe(true);
      expect(isWarrenError(small) && small.message).toMatch(/printed more than 50 bytes on stdout/);
    } finally {
      await pool.close();
    }
  }, 60_000);
});

describe('host-key pins tied to the key type (real sshd with ed25519, RSA and ECDSA host keys)', () => {
  it('reaches a host pinned by its RSA key, by its ECDSA key, and by its ed25519 key', async () => {
    expect(await runsOn({ ...host, port: 2201, hostKey: pubOf.rsa })).toBe('lab1');
    expect(await runsOn({ ...host, port: 2201, hostKey: pubOf.ecdsa })).toBe('lab1');
    expect(await runsOn({ ...host, port: 2201, hostKey: host.hostKey })).toBe('lab1');
  }, 60_000);

  it(
    'still refuses a wrong pin of the same type, and a fingerprint pin of ' + 'a key the host does not prefer',
    async () => {
      const wrong = await connectError({ ...host, port: 2201, hostKey: pubOf.wrongRsa });
      const rsaFingerprint = execFileSync('ssh-keygen', ['-lf', '-'], { input: `${pubOf.rsa}\n` })
        .toString()
        .split(' ')[1];
      const byFingerprint = await connectError({ ...host, port: 2201, hostKey: rsaFingerprint });

      expect(isWarrenError(wrong) && wrong.code).toBe('ssh.host_key_mismatch');
      // A fingerprint does not say the key's type: the host presents its preferred (ed25519) key.
      expect(isWarrenError(byFingerprint) && byFingerprint.code).toBe('ssh.host_key_mismatch');
    },
    60_000,
  );

  it('refuses an sshd that offers only ssh-rsa (SHA-1) signatures', async () => {
    const error = await connectError({ ...host, port: 2202, hostKey: pubOf.rsa });

    expect(isWarrenError(error) && error.code).toBe('ssh.no_common_algorithm');
  }, 60_000);

  it('refuses an sshd that offers only SHA-1 MACs', async () => {
    const error = await connectError({ ...host, port: 2203, hostKey: host.hostKey });

    expect(isWarrenError(error) && error.code).toBe('ssh.no_common_algorithm');
  }, 60_000);
});

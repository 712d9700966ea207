import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PinnedHostKey } from '../../../src/config/schema.js';
import { ACCEPTED_MACS, fingerprintOf, hostKeyAlgorithmsFor, matchesPinnedKey } from '../../../src/ssh/host-key.js';

interface GeneratedKey {
  /** The .pub line, as ssh-keyscan or a host's /etc/ssh/ssh_host_*_key.pub shows it. */
  line: string;
  /** The raw key blob a server presents in the SSH handshake. */
  blob: Buffer;
  /** What `ssh-keygen -lf` prints as the fingerprint. */
  fingerprint: string;
}

let dir: string;
const keys: Record<string, GeneratedKey> = {};

function generate(name: string, type: string, bits?: number): GeneratedKey {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', [
    '-q',
    '-t',
    type,
    ...(bits ? ['-b', String(bits)] : []),
    '-N',
    '',
    '-C',
    `root@${name}`,
    '-f',
    file,
  ]);
  const line = readFileSync(`${file}.pub`, 'utf8').trim();
  const fingerprint = execFileSync('ssh-keygen', ['-lf', `${file}.pub`])
    .toString()
    .split(' ')[1];
  return { line, blob: Buffer.from(line.split(' ')[1], 'base64'), fingerprint };
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'warren-hostkey-'));
  keys.lab1 = generate('lab1', 'ed25519');
  keys.lab2 = generate('lab2', 'ed25519');
  keys.ecdsa = generate('ecdsa', 'ecdsa', 256);
  keys.ecdsa384 = generate('ecdsa384', 'ecdsa', 384);
  keys.ecdsa521 = generate('ecdsa521', 'ecdsa', 521);
  keys.rsa = generate('rsa', 'rsa', 2048);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('fingerprintOf', () => {
  it.each(['lab1', 'ecdsa', 'rsa'])('matches ssh-keygen -lf for a generated %s key', (name) => {
    const key = keys[name];

    expect(fingerprintOf(key.blob)).toBe(key.fingerprint);
    expect(key.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});

describe('matchesPinnedKey', () => {
  it('accepts the key when the pin is its .pub line', () => {
    expect(matchesPinnedKey(keys.lab1.blob, keys.lab1.line)).toBe(true);
  });

  it('accepts the key when the pin is its SHA256 fingerprint, with or without padding', () => {
    expect(matchesPinnedKey(keys.lab1.blob, keys.lab1.fingerprint)).toBe(true);
    expect(matchesPinnedKey(keys.lab1.blob, `${keys.lab1.fingerprint}=`)).toBe(true);
  });

  it('accepts a pin with the whitespace a YAML block leaves around it', () => {
    expect(matchesPinnedKey(keys.rsa.blob, `  ${keys.rsa.line}\n`)).toBe(true);
  });

  it('refuses a different key, whichever way it is pinned', () => {
    expect(matchesPinnedKey(keys.lab2.blob, keys.lab1.line)).toBe(false);
    expect(matchesPinnedKey(keys.lab2.blob, keys.lab1.fingerprint)).toBe(false);
    expect(matchesPinnedKey(keys.ecdsa.blob, keys.lab1.line)).toBe(false);
  });

  it('refuses a pin with no key in it', () => {
    expect(matchesPinnedKey(keys.lab1.blob, 'ssh-ed25519')).toBe(false);
    expect(matchesPinnedKey(keys.lab1.blob, '')).toBe(false);
  });

  it('takes what ssh-keygen prints as a valid pin in the config', () => {
    for (const key of Object.values(keys)) {
      expect(PinnedHostKey.safeParse(key.line).success).toBe(true);
      expect(PinnedHostKey.safeParse(key.fingerprint).success).toBe(true);
    }
  });
});

describe('hostKeyAlgorithmsFor', () => {
  it("offers only the pinned key's algorithm, so the host presents that key and not its ed25519 one", () => {
    expect(hostKeyAlgorithmsFor(keys.lab1.line)).toEqual(['ssh-ed25519']);
    expect(hostKeyAlgorithmsFor(keys.ecdsa.line)).toEqual(['ecdsa-sha2-nistp256']);
    expect(hostKeyAlgorithmsFor(keys.ecdsa384.line)).toEqual(['ecdsa-sha2-nistp384']);
    expect(hostKeyAlgorithmsFor(keys.ecdsa521.line)).toEqual(['ecdsa-sha2-nistp521']);
  });

  it('offers an RSA pin only with SHA-2 signatures, never ssh-rsa (SHA-1)', () => {
    expect(hostKeyAlgorithmsFor(keys.rsa.line)).toEqual(['rsa-sha2-512', 'rsa-sha2-256']);
  });

  it('goes by the key blob, not the label in front of it', () => {
    expect(hostKeyAlgorithmsFor(`ssh-ed25519 ${keys.rsa.line.split(' ')[1]}`)).toEqual([
      'rsa-sha2-512',
      'rsa-sha2-256',
    ]);
  });

  it('offers every modern algorithm for a fingerprint pin (its type is unknown), ssh-rsa and DSA never', () => {
    const offered = hostKeyAlgorithmsFor(keys.rsa.fingerprint);

    expect(offered).toEqual([
      'ssh-ed25519',
      'ecdsa-sha2-nistp256',
      'ecdsa-sha2-nistp384',
      'ecdsa-sha2-nistp521',
      'rsa-sha2-512',
      'rsa-sha2-256',
    ]);
  });
});

describe('ACCEPTED_MACS', () => {
  it('has no SHA-1 or MD5 MAC', () => {
    expect(ACCEPTED_MACS.length).toBeGreaterThan(0);
    for (const mac of ACCEPTED_MACS) expect(mac).not.toMatch(/sha1|md5|ripemd/);
  });
});

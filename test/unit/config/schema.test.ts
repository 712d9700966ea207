import { describe, expect, it } from 'vitest';
import { PinnedHostKey, SafeName, ShortHostname } from '../../../src/config/schema.js';
import { LAB_HOST_FINGERPRINTS, LAB_HOST_KEYS } from '../../support/inventory.js';

/** Names an attacker (or a typo) could put in a config or a chat command. */
const HOSTILE_NAMES = [
  '',
  '-rf',
  '--help',
  '.hidden',
  '_lab',
  'lab 1',
  'lab\t1',
  'lab1\n',
  'lab1\nreboot',
  'lab1;reboot',
  'lab1&&reboot',
  'lab1|sh',
  '$(reboot)',
  '${IFS}',
  '`reboot`',
  "lab'1",
  'lab"1',
  'lab\\1',
  'lab*',
  'lab?',
  'lab[12]',
  '~root',
  'lab1>x',
  'lab1/../etc',
  'rabbit@lab1',
  'läb1',
  'lab１',
  'lab1\u0000',
  'a'.repeat(64),
  'a'.repeat(10_000),
];

describe('SafeName', () => {
  it.each(HOSTILE_NAMES.map((name) => [JSON.stringify(name).slice(0, 40), name]))('refuses %s', (_label, name) => {
    const result = SafeName.safeParse(name);

    expect(result.success).toBe(false);
  });

  it.each(['lab1', 'l', 'rabbit-prod_01.eu-west', '9lives', 'a'.repeat(63)])('accepts %s', (name) => {
    expect(SafeName.parse(name)).toBe(name);
  });

  it('says what a name may contain', () => {
    const result = SafeName.safeParse('$(reboot)');

    expect(result.error?.issues[0]?.message).toBe(
      'letters, digits, ".", "-" or "_", starting with a letter or digit, at most 63 characters',
    );
  });
});

describe('ShortHostname', () => {
  it.each(['lab1.example.org', '-lab', 'lab_1', 'lab 1', '$(id)', ''])('refuses %j', (name) => {
    expect(ShortHostname.safeParse(name).success).toBe(false);
  });

  it.each(['lab1', 'rabbit-b', 'A1'])('accepts %j', (name) => {
    expect(ShortHostname.parse(name)).toBe(name);
  });
});

describe('PinnedHostKey', () => {
  it('accepts a .pub line and an ssh-keygen -lf fingerprint', () => {
    expect(PinnedHostKey.parse(LAB_HOST_KEYS[0])).toBe(LAB_HOST_KEYS[0]);
    expect(PinnedHostKey.parse(`  ${LAB_HOST_FINGERPRINTS[0]}\n`)).toBe(LAB_HOST_FINGERPRINTS[0]);
  });

  it.each([
    ['a key type warren does not pin', 'ssh-dss AAAAB3NzaC1kc3MAAACBAP'],
    ['a bare base64 blob', 'AAAAC3NzaC1lZDI1NTE5AAAAIJhxOEVMXp6oq85USMOPbMP9jgNMBnNxJMXFy3nTaex+'],
    ['an MD5 fingerprint', 'MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48'],
    ['a fingerprint one character short', LAB_HOST_FINGERPRINTS[0].slice(0, -1)],
    ['a key followed by a shell command on the same line', 'ssh-ed25519 AAAA;reboot'],
  ])('refuses %s', (_what, pin) => {
    expect(PinnedHostKey.safeParse(pin).success).toBe(false);
  });
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShellCommand, commandName, quote, sh } from '../../../src/ssh/quote.js';

/** Every printable ASCII character and then some, in a fixed pseudo-random order: 10 000 of them. */
function longHostileString(): string {
  const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');
  const alphabet = `${printable}\n\t\r\u00e9\u65e5\u{1F407}`;
  const chars = [...alphabet];
  let seed = 7;
  let out = '';
  while (out.length < 10_000) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    out += chars[seed % chars.length];
  }
  return out;
}

/** Inputs that would do harm, or just break, if they reached a shell unquoted. */
const HOSTILE: [string, string][] = [
  ['empty', ''],
  ['a single quote', "'"],
  ['two single quotes', "''"],
  ['an apostrophe', "it's"],
  ['a double quote', '"'],
  ['a semicolon', 'a;b'],
  ['a command after a semicolon', '; touch pwned'],
  ['command substitution', '$(touch pwned)'],
  ['backticks', '`touch pwned`'],
  ['a variable', '$HOME'],
  ['a braced variable', '${HOME:-x}'],
  ['arithmetic', '$((6*7))'],
  ['a newline', 'a\nb'],
  ['a trailing newline', 'lab1\n'],
  ['only newlines', '\n\n'],
  ['a carriage return', 'a\rb'],
  ['a tab', 'a\tb'],
  ['a star glob', '*'],
  ['a question-mark glob', '?'],
  ['a bracket glob', '[a-z]*'],
  ['a brace expansion', '{a,b}'],
  ['a tilde', '~'],
  ['a tilde user', '~root'],
  ['a leading dash', '-n'],
  ['a leading double dash', '--help'],
  ['a printf escape', '\\n%s%d'],
  ['a backslash at the end', 'abc\\'],
  ['pipes and redirections', 'a|b>c<d&e'],
  ['a comment', '# not a comment'],
  ['an assignment', 'PATH=/tmp'],
  ['a history bang', '!!'],
  ['everything at once', `x'y"z\`$(id);|&<>*?[]{}~#!\\\n`],
  ['control characters', '\u0001\u0007\u001b[31m\u007f'],
  ['unicode', 'läb日本🐇'],
  ['the policy pattern', '^(?!amq\\.).*'],
  ['a JSON definition', '{"ha-mode":"all"}'],
  ['10 000 hostile characters', longHostileString()],
];

let cwd: string;

beforeAll(() => {
  // Unquoted globs would expand to this file's name: a run here shows whether they did.
  cwd = mkdtempSync(path.join(tmpdir(), 'warren-quote-'));
  writeFileSync(path.join(cwd, 'a-file'), '');
});

afterAll(() => {
  rmSync(cwd, { recursive: true, force: true });
});

/** Runs a command line with the real /bin/sh and returns its stdout bytes. */
function runSh(commandLine: string): Buffer {
  return execFileSync('sh', ['-c', commandLine], {
    cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent' },
  });
}

describe('quote', () => {
  it.each(HOSTILE)('passes %s through sh byte for byte', (_what, input) => {
    const output = runSh(`printf %s ${quote(input)}`);

    expect(output.equals(Buffer.from(input, 'utf8'))).toBe(true);
  });

  it.each(HOSTILE)('keeps %s one argument', (_what, input) => {
    const output = runSh(`set -- ${quote(input)}; printf %s "$#"`);

    expect(output.toString()).toBe('1');
  });

  it('runs nothing it was given', () => {
    runSh(`printf %s ${quote('$(touch pwned)')} ${quote('`touch pwned`')} ${quote('; touch pwned')} >/dev/null`);

    expect(runSh('ls').toString()).toBe('a-file\n');
  });

  it('leaves plain words bare, so commands stay readable', () => {
    expect(quote('rabbit@lab1')).toBe('rabbit@lab1');
    expect(quote('/var/lib/rabbitmq/.erlang.cookie')).toBe('/var/lib/rabbitmq/.erlang.cookie');
    expect(quote('rabbitmq-server=3.10.8-1.1+deb12u1')).toBe('rabbitmq-server=3.10.8-1.1+deb12u1');
  });

  it('quotes anything else in single quotes', () => {
    expect(quote("it's")).toBe(`'it'\\''s'`);
    expect(quote('')).toBe(`''`);
    expect(quote('a b')).toBe(`'a b'`);
  });

  it('refuses a NUL byte, which no shell word can carry', () => {
    expect(() => quote('a\0b')).toThrow('a shell word cannot contain a NUL byte');
  });
});

describe('sh', () => {
  it.each(HOSTILE)('quotes an interpolated %s', (_what, input) => {
    const command = sh`printf '%s|' ${input} ${['x y', input]}`;

    expect(runSh(command.text).equals(Buffer.from(`${input}|x y|${input}|`, 'utf8'))).toBe(true);
  });

  it('splices a nested command unquoted and quotes numbers like words', () => {
    const inner = sh`printf %s ${'a b'}`;

    const command = sh`${inner}; printf %s ${42}`;

    expect(command).toBeInstanceOf(ShellCommand);
    expect(command.text).toBe(`printf %s 'a b'; printf %s 42`);
    expect(runSh(command.text).toString()).toBe('a b42');
  });

  it('renders an array as separately quoted words', () => {
    expect(sh`for p in ${['lab1', 'it s', '']}; do :; done`.text).toBe(`for p in lab1 'it s' ''; do :; done`);
  });
});

describe('commandName', () => {
  it('uses the label a command was named with, over its text', () => {
    const command = sh`if true; then rabbitmqctl -q start_app </dev/null; fi`.named('rabbitmqctl start_app');

    expect(commandName(command)).toBe('rabbitmqctl start_app');
    expect(command.text).toBe('if true; then rabbitmqctl -q start_app </dev/null; fi');
  });

  it.each([
    ['a plain command', sh`rabbitmqctl -q stop_app </dev/null`, 'rabbitmqctl'],
    [
      'an environment assignment first',
      sh`DEBIAN_FRONTEND=noninteractive apt-get install -y rabbitmq-server`,
      'apt-get',
    ],
    ['a guard in shell keywords', sh`if ! pgrep -x beam.smp; then exit 69; fi`, 'pgrep'],
    ['a loop', sh`until rabbitmqctl -q await_startup; do sleep 1; done`, 'rabbitmqctl'],
    ['a subshell', sh`(cd /tmp && tar xf x.tar)`, 'cd'],
    ['umask and its mode before the program', sh`umask 077 && base64 -d > /tmp/x`, 'base64'],
    ['timeout and its seconds before the program', sh`timeout 30 rabbitmqctl -q ping`, 'rabbitmqctl'],
  ])('names %s by its first program word', (_what, command, name) => {
    expect(commandName(command)).toBe(name);
  });

  it('falls back to "command" when there is no program word', () => {
    expect(commandName(sh`if then fi`)).toBe('command');
  });

  it('keeps the label through a nested command only when named again', () => {
    const inner = sh`rabbitmqctl -q ping`.named('ping');

    expect(commandName(sh`${inner}`)).toBe('rabbitmqctl');
  });
});

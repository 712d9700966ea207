import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShellCommand, quote, sh } from '../../../src/ssh/quote.js';

/** Every printable ASCII character and then some, in a fixed pseudo-random order: 10 000 of them. */
function longHostileString(): string {
  const alphabet = `${Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('')}\n\t\r\u00e9\u65e5\u{1F407}`;
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
  return execFileSync('sh', ['-c', commandLine], { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent' } });
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

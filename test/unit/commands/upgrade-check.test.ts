import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../../src/commands/parse.js';
import { commandLabel, requiredRole } from '../../../src/slack/authorize.js';

describe('upgrade-check in the grammar', () => {
  it.each([
    ['upgrade-check rmq-lab', { name: 'upgrade-check', cluster: 'rmq-lab' }],
    ['upgrade-check rmq-lab --to 4.0', { name: 'upgrade-check', cluster: 'rmq-lab', to: '4.0' }],
    ['Upgrade-Check --TO 4.0.5 rmq-lab', { name: 'upgrade-check', cluster: 'rmq-lab', to: '4.0.5' }],
    ['upgrade-check rmq-lab —to 3.13', { name: 'upgrade-check', cluster: 'rmq-lab', to: '3.13' }],
  ])('parses %j', (text, command) => {
    expect(parseCommand(text)).toEqual({ ok: true, command });
  });

  it.each([
    ['upgrade-check', 'usage.missing_argument', 'upgrade-check needs a cluster name'],
    ['upgrade-check rmq-lab --to', 'usage.missing_argument', '--to needs a version, such as 4.0 or 4.0.5'],
    [
      'upgrade-check rmq-lab --to latest',
      'usage.bad_version',
      '"latest" is not a version: name a series such as 4.0 or a release such as 4.0.5',
    ],
    [
      'upgrade-check rmq-lab --to 4',
      'usage.bad_version',
      '"4" is not a version: name a series such as 4.0 or a release such as 4.0.5',
    ],
    ['upgrade-check rmq-lab --to 4.0 --to 4.1', 'usage.unexpected_argument', '--to is given twice'],
    [
      'upgrade-check rmq-lab --dry-run',
      'usage.unknown_option',
      'unknown option "--dry-run" for upgrade-check (options: --to <version>)',
    ],
    ['upgrade-check rmq-lab other', 'usage.unexpected_argument', 'unexpected argument "other"'],
  ])('refuses %j', (text, code, message) => {
    const parsed = parseCommand(text);
    expect(parsed).toEqual({
      ok: false,
      error: {
        code,
        message,
        usage: [expect.stringMatching(/^upgrade-check <cluster> \[--to <version>\] — /) as unknown],
      },
    });
  });

  it('is read-only: a viewer may ask; labelled with its target', () => {
    expect(requiredRole({ name: 'upgrade-check', cluster: 'rmq-lab', to: '4.0' })).toBe('viewer');
    expect(commandLabel({ name: 'upgrade-check', cluster: 'rmq-lab', to: '4.0' })).toBe(
      'upgrade-check rmq-lab --to 4.0',
    );
    expect(commandLabel({ name: 'upgrade-check', cluster: 'rmq-lab' })).toBe('upgrade-check rmq-lab');
  });
});

import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../../src/commands/parse.js';
import { requiredRole } from '../../../src/slack/authorize.js';

describe('/rabbit watch, unwatch, watches', () => {
  it('parses a watch with and without a channel, the channel as an id or as Slack writes a picked one', () => {
    expect(parseCommand('watch lab')).toEqual({ ok: true, command: { name: 'watch', cluster: 'lab' } });
    expect(parseCommand('watch lab C0123ABCD')).toEqual({
      ok: true,
      command: { name: 'watch', cluster: 'lab', channel: 'C0123ABCD' },
    });
    expect(parseCommand('watch lab <#C0123ABCD|ops-alerts>')).toEqual({
      ok: true,
      command: { name: 'watch', cluster: 'lab', channel: 'C0123ABCD' },
    });
    expect(parseCommand('unwatch lab')).toEqual({ ok: true, command: { name: 'unwatch', cluster: 'lab' } });
    expect(parseCommand('watches')).toEqual({ ok: true, command: { name: 'watches' } });
  });

  it('refuses a channel by name, a channel that is no id, a missing cluster and extra words, saying why', () => {
    const refused = (text: string) => {
      const parsed = parseCommand(text);
      if (parsed.ok) throw new Error(`${text} parsed`);
      return [parsed.error.code, parsed.error.message];
    };
    expect(refused('watch lab #ops')).toEqual(['usage.bad_channel', expect.stringMatching(/by its id/)]);
    expect(refused('watch lab ops-alerts')).toEqual(['usage.bad_channel', expect.stringMatching(/not a channel id/)]);
    expect(refused('watch')).toEqual(['usage.missing_argument', 'watch needs a cluster name']);
    expect(refused('watch lab C0123ABCD more')).toEqual(['usage.unexpected_argument', 'unexpected argument "more"']);
    expect(refused('unwatch')).toEqual(['usage.missing_argument', 'unwatch needs a cluster name']);
    expect(refused('watches lab')).toEqual(['usage.unexpected_argument', 'unexpected argument "lab"']);
  });

  it('starting or stopping a watch is an operator’s; listing them a viewer’s', () => {
    expect(requiredRole({ name: 'watch', cluster: 'lab' })).toBe('operator');
    expect(requiredRole({ name: 'unwatch', cluster: 'lab' })).toBe('operator');
    expect(requiredRole({ name: 'watches' })).toBe('viewer');
  });
});

import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { buildProgram } from '../../../src/cli/main.js';
import { USAGE } from '../../../src/commands/help.js';
import { COMMANDS, commandsOf, describeFor, synopsis } from '../../../src/commands/operations.js';
import { parseCommand } from '../../../src/commands/parse.js';

/** `cluster create <cluster>` for every leaf command of the CLI, with its options. */
function cliCommands(
  program: Command,
  prefix: string[] = [],
): { words: string; args: string[]; options: string[]; description: string }[] {
  return program.commands.flatMap((c) => {
    const words = [...prefix, c.name()];
    if (c.commands.length > 0) return cliCommands(c, words);
    return [
      {
        words: words.join(' '),
        args: c.registeredArguments.map((a) => (a.required ? `<${a.name()}>` : `[<${a.name()}>]`)),
        options: c.options.map((o) => o.long ?? ''),
        description: c.description(),
      },
    ];
  });
}

describe('the grammar table', () => {
  const cli = cliCommands(buildProgram(() => undefined));

  it(
    'gives the CLI every operation with the words, arguments and --dry-run ' +
      '/rabbit has, described from the same row',
    () => {
      for (const spec of commandsOf('cli')) {
        const command = cli.find((c) => c.words === spec.words);
        expect(command, spec.words).toBeDefined();
        expect(command!.args).toEqual(spec.args);
        expect(command!.options.includes('--dry-run')).toBe(spec.dryRun);
        for (const option of spec.options ?? [])
          expect(command!.options, spec.words).toContain(option.flag.split(' ')[0]);
        expect(command!.description).toBe(describeFor(spec, 'cli'));
      }
    },
  );

  it('has no `warren plan`: the dry run is --dry-run in both front ends', () => {
    expect(cli.some((c) => c.words.startsWith('plan'))).toBe(false);
  });

  it("is what /rabbit parses: each row's synopsis, filled in, parses to that command", () => {
    for (const spec of COMMANDS) {
      const text = synopsis(spec)
        .replace(/\[<cluster>\]|<cluster>/, 'rmq-lab')
        .replace('<host>', 'mq3')
        .replace('[--dry-run]', '--dry-run')
        .replace('[--to <version>]', '--to 4.0')
        .replace('[<channel>]', 'C0123ABCD');
      const parsed = parseCommand(text);
      expect(parsed.ok && parsed.command.name, text).toBe(spec.name);
      expect(USAGE[spec.name].startsWith(synopsis(spec))).toBe(true);
    }
  });
});

/** Quotes one word for a POSIX shell: single quotes, with embedded quotes closed and escaped. */
export function quote(word: string): string {
  if (word.includes('\0')) throw new Error('a shell word cannot contain a NUL byte');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A shell command built only from literal text and quoted values: the one way commands are made. */
export class ShellCommand {
  constructor(
    readonly text: string,
    /** What an operator would call it ("rabbitmqctl cluster_status"), for error messages. */
    readonly label?: string,
  ) {}

  /** The same command, named for error messages (commands wrapped in shell logic need it). */
  named(label: string): ShellCommand {
    return new ShellCommand(this.text, label);
  }

  toString(): string {
    return this.text;
  }
}

const SHELL_WORDS = new Set([
  'if',
  'then',
  'else',
  'fi',
  'for',
  'do',
  'done',
  'until',
  'while',
  '!',
  '{',
  '}',
  'trap',
  'umask',
  'timeout',
  'end',
]);

/** The name an operator knows a command by: its label, else its first program word. */
export function commandName(command: ShellCommand): string {
  if (command.label) return command.label;
  const word = command.text
    .split(/[\s;&|()]+/)
    .find((w) => w && !w.includes('=') && !SHELL_WORDS.has(w) && !w.startsWith('$') && !/^\d+$/.test(w));
  return word ?? 'command';
}

type ShellValue = string | number | ShellCommand | readonly (string | number)[];

function render(value: ShellValue): string {
  if (value instanceof ShellCommand) return value.text;
  if (Array.isArray(value)) return value.map((v) => quote(String(v))).join(' ');
  return quote(String(value));
}

/**
 * Tagged template: `sh\`rabbitmqctl join_cluster ${node}\`` quotes every interpolated value, so
 * nothing from a config or a user reaches a shell unquoted. Nest `sh` results to splice commands.
 */
export function sh(strings: TemplateStringsArray, ...values: ShellValue[]): ShellCommand {
  let text = strings[0] ?? '';
  values.forEach((value, i) => {
    text += render(value) + (strings[i + 1] ?? '');
  });
  return new ShellCommand(text);
}

/**
 * What no Slack message may carry from a host: an unescaped `<`, `>` or `&`, a control character
 * (newlines aside) or a lone surrogate. Our own markup (mentions of known users, date tokens and
 * links to Slack messages) is allowed only in the exact shapes the builders make.
 */

/** Keys whose values Slack never renders as text. */
const STRUCTURAL = new Set([
  'type',
  'action_id',
  'block_id',
  'style',
  'value',
  'channel',
  'ts',
  'thread_ts',
  'response_type',
  'token',
]);

/** Slack user ids the tests use for people (a host never gets to choose one). */
const PEOPLE = /<@U0(?:OPERATOR|APPROVER|APPROV[12]|APPR|VIEWER1|NOBODY1)>|<@U2147483697>/g;
const DATE_TOKEN = /<!date\^\d+\^\{date_short_pretty\} at \{time\}\|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z>/g;
const MESSAGE_LINK =
  /<https:\/\/(?:[a-z0-9-]+\.)?slack\.com\/archives\/[A-Z0-9]+\/p\d+\|(?:card|its card|the running operation)>/g;
const ENTITY = /&(?:amp|lt|gt);/g;
const FORBIDDEN =
  // eslint-disable-next-line no-control-regex
  /[<>&\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Every problem found in a message (or any value holding messages): the field's path and the text around it. */
export function unescapedIn(value: unknown, path = ''): string[] {
  if (typeof value === 'string') {
    const rest = value.replace(PEOPLE, '').replace(DATE_TOKEN, '').replace(MESSAGE_LINK, '').replace(ENTITY, '');
    const found = FORBIDDEN.exec(rest);
    return found
      ? [`${path || '(text)'}: ${JSON.stringify(rest.slice(Math.max(0, found.index - 30), found.index + 30))}`]
      : [];
  }
  if (Array.isArray(value)) return value.flatMap((item, i) => unescapedIn(item, `${path}[${i}]`));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([key, item]) =>
      STRUCTURAL.has(key) ? [] : unescapedIn(item, path ? `${path}.${key}` : key),
    );
  }
  return [];
}

/** Hostile pieces a host could print: Slack markup, entities, ANSI sequences, C0/C1, bidi, lone surrogates. */
export const HOSTILE_PIECES = [
  '<!channel>',
  '<!here>',
  '<https://evil.example|click>',
  '<@U0EVIL99>',
  '<#C0EVIL|general>',
  '&',
  '&amp',
  '&lt;',
  '>',
  '\u001b[31m',
  '\u001b]0;title\u0007',
  '\u001b[2J\u001b[H',
  '\u009b31m',
  '\r',
  '\u0000',
  '\u0007',
  '\u007f',
  '\u202e',
  '\ud800',
  '\udfff',
  '\u{1F407}',
  '```',
  '*bold*',
  'rabbit@mq1',
  ' ',
  '\n',
  'é',
];

/** A deterministic pseudo-random source, so a failing case can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** A hostile text of a few pieces, now and then a very long one. */
export function hostileText(next: () => number): string {
  const pieces = next() < 0.05 ? 2000 + Math.floor(next() * 3000) : 1 + Math.floor(next() * 8);
  let text = '';
  for (let i = 0; i < pieces; i++) text += HOSTILE_PIECES[Math.floor(next() * HOSTILE_PIECES.length)];
  return text;
}

/**
 * The C0/C1 characters, ESC and the other invisible controls a terminal must not receive from a host (newlines aside).
 */
export const TERMINAL_FORBIDDEN =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

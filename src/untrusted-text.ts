/**
 * Text that came from a host (or anywhere we do not control) made safe to show: one place for what
 * terminals and Slack must never receive. Every pattern here is linear: no nested quantifiers.
 */

// ANSI/VT escape sequences, whole, so no `[31m` is left behind: CSI (ESC [ or the 8-bit CSI),
// OSC and the other string sequences (up to BEL or ST, or the end), and two-character escapes.
const ESCAPE_SEQUENCE =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /(?:\u001b\[|\u009b)[0-?]*[ -/]*[@-~]?|(?:\u001b[\]PX^_]|[\u0090\u0098\u009d-\u009f])[^\u0007\u001b\u009c]*(?:\u0007|\u001b\\|\u009c)?|\u001b[ -~]?/g;
// C0 and C1 control characters but newline; DEL; Unicode line/paragraph separators and the bidi
// overrides and isolates that reorder what a reader sees ("Trojan source").
// eslint-disable-next-line no-control-regex -- as above
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Well-formed UTF-16 (a lone surrogate becomes U+FFFD), with escape sequences and control characters removed; newlines
 * stay, tabs become spaces.
 */
export function withoutControls(text: string): string {
  return text.replace(LONE_SURROGATE, '\ufffd').replace(ESCAPE_SEQUENCE, '').replace(/\t/g, ' ').replace(CONTROL, '');
}

/** Text for a terminal: nothing a host printed can move the cursor, recolour, retitle or hide what follows. */
export function terminalText(text: string): string {
  return withoutControls(text);
}

/** Escapes JSON for a terminal: the C1 and other invisible characters JSON.stringify leaves raw become \u escapes. */
export function terminalJson(json: string): string {
  return json
    .replace(LONE_SURROGATE, '\ufffd')
    .replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

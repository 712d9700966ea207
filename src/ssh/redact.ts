/**
 * Holds the secrets of one job (the Erlang cookie, in every encoding it travels in) and blanks them
 * out of any text that leaves the job: stderr in errors, log fields, progress details.
 */
export class Redactor {
  private readonly secrets = new Set<string>();

  /**
   * Registers a secret, whatever its length: a short secret left in clear is still a secret given
   * away. Blanking a very short one may mangle ordinary text; that is the price, and the cookie
   * step refuses cookies too short to be safe anyway.
   */
  add(secret: string): void {
    const trimmed = secret.trim();
    if (trimmed.length > 0) this.secrets.add(trimmed);
  }

  redact(text: string): string {
    if (this.secrets.size === 0) return text;
    // One pass, longest first: a secret that contains a shorter one is blanked whole, and a short
    // secret never matches inside a '[redacted]' an earlier pass wrote.
    const alternatives = [...this.secrets]
      .sort((a, b) => b.length - a.length)
      .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    return text.replace(new RegExp(alternatives.join('|'), 'g'), '[redacted]');
  }
}

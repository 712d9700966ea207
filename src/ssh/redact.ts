/**
 * Holds the secrets of one job (the Erlang cookie, in every encoding it travels in) and blanks them
 * out of any text that leaves the job: stderr in errors, log fields, progress details.
 */
export class Redactor {
  private readonly secrets = new Set<string>();

  /** Registers a secret; short strings are refused because blanking them would mangle ordinary text. */
  add(secret: string): void {
    const trimmed = secret.trim();
    if (trimmed.length >= 8) this.secrets.add(trimmed);
  }

  redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join('[redacted]');
    return out;
  }
}

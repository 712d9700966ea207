import { createHash } from 'node:crypto';

/** OpenSSH's fingerprint of a raw public key blob: `SHA256:` + unpadded base64 of its SHA-256. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * True when the key a host presented is the pinned one. The pin is either a public key line
 * (`ssh-ed25519 AAAA…`, compared byte for byte) or a `SHA256:` fingerprint.
 */
export function matchesPinnedKey(presented: Buffer, pinned: string): boolean {
  const pin = pinned.trim();
  if (pin.startsWith('SHA256:')) return fingerprintOf(presented) === pin.replace(/=+$/, '');
  const base64 = pin.split(/\s+/)[1];
  if (!base64) return false;
  return Buffer.from(base64, 'base64').equals(presented);
}

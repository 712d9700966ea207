import { createHash } from 'node:crypto';
import type { MacAlgorithm, ServerHostKeyAlgorithm } from 'ssh2';

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

/**
 * Host key algorithms offered when the pin does not say the key's type (a fingerprint): modern ones, no `ssh-rsa`
 * (SHA-1), no DSA.
 */
const MODERN_HOST_KEY_ALGORITHMS: ServerHostKeyAlgorithm[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
];

/** The signature algorithms that prove possession of one key type; an RSA key signs with SHA-2 only. */
const ALGORITHMS_OF_KEY_TYPE: Record<string, ServerHostKeyAlgorithm[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
};

/** MACs the client accepts: SHA-2 only (no hmac-sha1, md5 or ripemd); AEAD ciphers need none. */
export const ACCEPTED_MACS: MacAlgorithm[] = [
  'hmac-sha2-256-etm@openssh.com',
  'hmac-sha2-512-etm@openssh.com',
  'hmac-sha2-256',
  'hmac-sha2-512',
];

/** The key type a public key blob names in its first field (RFC 4253 §6.6), if it is well formed. */
function keyTypeOf(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const length = blob.readUInt32BE(0);
  return length > 0 && 4 + length <= blob.length ? blob.subarray(4, 4 + length).toString('latin1') : undefined;
}

/**
 * The host key algorithms to offer a host, tied to its pin. A host has several host keys and
 * presents the one the negotiation picks (ed25519 first, by default): a host pinned by its RSA or
 * ECDSA key was refused as a possible man-in-the-middle. A key-line pin offers only its own
 * type's algorithms (read from the key blob); a fingerprint pin does not tell the type, so the
 * modern list is offered and the host's preferred key must be the one pinned.
 */
export function hostKeyAlgorithmsFor(pinned: string): ServerHostKeyAlgorithm[] {
  const pin = pinned.trim();
  if (pin.startsWith('SHA256:')) return [...MODERN_HOST_KEY_ALGORITHMS];
  const base64 = pin.split(/\s+/)[1];
  const type = base64 ? keyTypeOf(Buffer.from(base64, 'base64')) : undefined;
  const own = type === undefined ? undefined : ALGORITHMS_OF_KEY_TYPE[type];
  return [...(own ?? MODERN_HOST_KEY_ALGORITHMS)];
}

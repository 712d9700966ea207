import { describe, expect, it } from 'vitest';
import { Redactor } from '../../../src/ssh/redact.js';

describe('Redactor', () => {
  it.each(['k', 'ab', 'pass', 'seven77'])('blanks a configured secret of %j however short it is', (secret) => {
    const redactor = new Redactor();
    redactor.add(secret);

    expect(redactor.redact(`before ${secret} after ${secret}`)).toBe('before [redacted] after [redacted]');
  });

  it('blanks a longer secret whole when a shorter one is part of it', () => {
    const redactor = new Redactor();
    redactor.add('abc');
    redactor.add('xxabcxx');

    expect(redactor.redact('xxabcxx and abc')).toBe('[redacted] and [redacted]');
  });

  it('registers a secret without its surrounding whitespace, and never the empty string', () => {
    const redactor = new Redactor();
    redactor.add('  s3cr3t\n');
    redactor.add('   ');

    expect(redactor.redact('s3cr3t | plain text')).toBe('[redacted] | plain text');
  });
});

describe('Redactor, one pass', () => {
  it('treats a secret as text, not a pattern, and never rewrites its own marker', () => {
    const redactor = new Redactor();
    redactor.add('a.c');
    redactor.add('red');

    expect(redactor.redact('abc a.c red')).toBe('abc [redacted] [redacted]');
  });
});

describe('Redactor, every encoding', () => {
  it('blanks every occurrence of every secret', () => {
    const redactor = new Redactor();
    redactor.add('QWERTYUIOPASDFGHJKLZ');
    redactor.add('UVdFUlRZVUlPUEFTREZHSEpLTFo=');

    expect(redactor.redact('a QWERTYUIOPASDFGHJKLZ b QWERTYUIOPASDFGHJKLZ c UVdFUlRZVUlPUEFTREZHSEpLTFo=')).toBe(
      'a [redacted] b [redacted] c [redacted]',
    );
  });
});

import { describe, expect, it } from 'vitest';
import { WarrenError } from '../../../src/errors.js';
import {
  MIN_DASHBOARD_PASSWORD_LENGTH,
  assertDashboardCredentials,
  createBasicAuthCheck,
  dashboardCredentialsFromEnv,
} from '../../../src/observability/dashboard-auth.js';

const basic = (userAndPassword: string) => `Basic ${Buffer.from(userAndPassword, 'utf8').toString('base64')}`;

function thrown(fn: () => unknown): WarrenError {
  try {
    fn();
  } catch (error) {
    if (error instanceof WarrenError) return error;
    throw error;
  }
  throw new Error('expected a WarrenError');
}

describe('createBasicAuthCheck', () => {
  const check = createBasicAuthCheck({ username: 'ops', password: 'correct horse battery' });

  it('accepts the configured user and password', () => {
    expect(check(basic('ops:correct horse battery'))).toBe(true);
    // The scheme name is case-insensitive (RFC 7617).
    expect(check(basic('ops:correct horse battery').replace('Basic', 'basic'))).toBe(true);
  });

  it('refuses a wrong password, a wrong user, and either one alone', () => {
    expect(check(basic('ops:correct horse batterY'))).toBe(false);
    expect(check(basic('ops:correct horse battery '))).toBe(false);
    expect(check(basic('Ops:correct horse battery'))).toBe(false);
    expect(check(basic('root:correct horse battery'))).toBe(false);
    expect(check(basic('ops:'))).toBe(false);
    expect(check(basic(':correct horse battery'))).toBe(false);
  });

  it('refuses missing, non-Basic and malformed headers', () => {
    expect(check(undefined)).toBe(false);
    expect(check(null)).toBe(false);
    expect(check('')).toBe(false);
    expect(check('Bearer b3BzOmNvcnJlY3QgaG9yc2UgYmF0dGVyeQ==')).toBe(false);
    expect(check('Basic')).toBe(false);
    expect(check('Basic not*base64')).toBe(false);
    // Decodes, but has no colon to split user from password.
    expect(check(basic('opscorrect horse battery'))).toBe(false);
  });

  it('splits at the first colon, so a password may contain colons; UTF-8 passwords work', () => {
    const colons = createBasicAuthCheck({ username: 'ops', password: 'a:b:c:d:e:f:g' });
    expect(colons(basic('ops:a:b:c:d:e:f:g'))).toBe(true);
    expect(colons(basic('ops:a:b:c:d:e:f'))).toBe(false);
    const utf8 = createBasicAuthCheck({ username: 'opérateur', password: 'mot de passe ünïcode' });
    expect(utf8(basic('opérateur:mot de passe ünïcode'))).toBe(true);
    expect(utf8(basic('operateur:mot de passe unicode'))).toBe(false);
  });
});

describe('assertDashboardCredentials', () => {
  it('returns credentials with a password of the minimum length', () => {
    const password = 'x'.repeat(MIN_DASHBOARD_PASSWORD_LENGTH);
    expect(assertDashboardCredentials({ username: 'ops', password })).toEqual({ username: 'ops', password });
  });

  it('refuses to start without both credentials, with config.invalid and what to set', () => {
    for (const credentials of [
      {},
      { username: 'ops' },
      { password: 'long enough password' },
      { username: '', password: 'long enough password' },
    ]) {
      const error = thrown(() => assertDashboardCredentials(credentials));
      expect(error.code).toBe('config.invalid');
      expect(error.hint).toMatch(/WARREN_DASHBOARD_USER and WARREN_DASHBOARD_PASSWORD/);
    }
  });

  it('refuses a password shorter than 12 characters without echoing it', () => {
    const error = thrown(() => assertDashboardCredentials({ username: 'ops', password: 'elevenchars' }));
    expect(error.code).toBe('config.invalid');
    expect(error.message).toMatch(/shorter than 12/);
    expect(JSON.stringify(error.toJSON())).not.toContain('elevenchars');
  });

  it('refuses a user name with a colon, which Basic auth could never match', () => {
    expect(thrown(() => assertDashboardCredentials({ username: 'o:ps', password: 'long enough password' })).code).toBe(
      'config.invalid',
    );
  });
});

describe('dashboardCredentialsFromEnv', () => {
  it('reads WARREN_DASHBOARD_USER and WARREN_DASHBOARD_PASSWORD and nothing else', () => {
    expect(
      dashboardCredentialsFromEnv({ WARREN_DASHBOARD_USER: 'ops', WARREN_DASHBOARD_PASSWORD: 'pw', PASSWORD: 'other' }),
    ).toEqual({ username: 'ops', password: 'pw' });
    expect(dashboardCredentialsFromEnv({})).toEqual({ username: undefined, password: undefined });
  });
});

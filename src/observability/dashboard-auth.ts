import { createHash, timingSafeEqual } from 'node:crypto';
import { WarrenError } from '../errors.js';

/** Shortest dashboard password accepted: the board shows every job's cluster, hosts and errors. */
export const MIN_DASHBOARD_PASSWORD_LENGTH = 12;

/** The realm the browser shows in its login prompt; `charset` lets it send UTF-8 passwords. */
export const DASHBOARD_CHALLENGE = 'Basic realm="warren dashboard", charset="UTF-8"';

export interface DashboardCredentials {
  username: string;
  password: string;
}

/** The dashboard's credentials from the environment only: never the config file or argv, which others can read. */
export function dashboardCredentialsFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<DashboardCredentials> {
  return { username: env.WARREN_DASHBOARD_USER, password: env.WARREN_DASHBOARD_PASSWORD };
}

/** Refuses credentials the dashboard must not start with; the error never carries the password. */
export function assertDashboardCredentials(credentials: Partial<DashboardCredentials>): DashboardCredentials {
  const { username, password } = credentials;
  const hint = `Set WARREN_DASHBOARD_USER and WARREN_DASHBOARD_PASSWORD (at least ${MIN_DASHBOARD_PASSWORD_LENGTH} characters) in the environment.`;
  if (!username || !password) {
    throw new WarrenError('config.invalid', 'the dashboard needs both WARREN_DASHBOARD_USER and WARREN_DASHBOARD_PASSWORD', { hint });
  }
  // Basic auth splits user from password at the first colon, so a user name holding one could never log in.
  if (username.includes(':')) {
    throw new WarrenError('config.invalid', 'WARREN_DASHBOARD_USER must not contain ":"', { hint });
  }
  if ([...password].length < MIN_DASHBOARD_PASSWORD_LENGTH) {
    throw new WarrenError('config.invalid', `WARREN_DASHBOARD_PASSWORD is shorter than ${MIN_DASHBOARD_PASSWORD_LENGTH} characters`, { hint });
  }
  return { username, password };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * A checker for `Authorization` headers against fixed credentials. Both sides are hashed first so
 * `timingSafeEqual` compares equal lengths and the time taken says nothing about either value; user
 * and password are both compared every time, so a right user with a wrong password takes as long as
 * a wrong user.
 */
export function createBasicAuthCheck(credentials: DashboardCredentials): (authorization: string | null | undefined) => boolean {
  const expectedUser = digest(credentials.username);
  const expectedPassword = digest(credentials.password);
  return (authorization) => {
    const match = /^Basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(authorization ?? '');
    if (!match) return false;
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    const userOk = timingSafeEqual(digest(decoded.slice(0, colon)), expectedUser);
    const passwordOk = timingSafeEqual(digest(decoded.slice(colon + 1)), expectedPassword);
    return userOk && passwordOk;
  };
}

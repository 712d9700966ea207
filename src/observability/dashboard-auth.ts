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
  const hint =
    `Set WARREN_DASHBOARD_USER and WARREN_DASHBOARD_PASSWORD (at least ` +
    `${MIN_DASHBOARD_PASSWORD_LENGTH} characters) in the environment.`;
  if (!username || !password) {
    throw new WarrenError(
      'config.invalid',
      'the dashboard needs both WARREN_DASHBOARD_USER and WARREN_DASHBOARD_PASSWORD',
      { hint },
    );
  }
  // Basic auth splits user from password at the first colon, so a user name holding one could never log in.
  if (username.includes(':')) {
    throw new WarrenError('config.invalid', 'WARREN_DASHBOARD_USER must not contain ":"', { hint });
  }
  if ([...password].length < MIN_DASHBOARD_PASSWORD_LENGTH) {
    throw new WarrenError(
      'config.invalid',
      `WARREN_DASHBOARD_PASSWORD is shorter than ${MIN_DASHBOARD_PASSWORD_LENGTH} characters`,
      { hint },
    );
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
export function createBasicAuthCheck(
  credentials: DashboardCredentials,
): (authorization: string | null | undefined) => boolean {
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

export interface LoginThrottleOptions {
  /** Failed logins a client may make before it has to wait (typos happen). */
  freeFailures?: number;
  /** The first wait; each further failure doubles it, up to `maxDelayMs`. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Clients remembered at most; the oldest is forgotten first (a flood of addresses cannot grow it without bound). */
  maxClients?: number;
  now?: () => number;
}

interface ClientFailures {
  failures: number;
  /** Until when the client is refused without its password being looked at (epoch ms). */
  blockedUntil: number;
  last: number;
  /** The blockedUntil already logged: one log line per wait, not one per refused request. */
  logged?: number;
}

/**
 * Failed logins per client (its address), with exponential backoff: the `freeFailures`th wrong
 * guess and each one after it make the client wait 1 s, 2 s, 4 s … (at most 15 min) before any
 * credentials of its are checked again, right ones included, so guessing runs at a few tries an
 * hour instead of thousands a second. A success forgets the client's failures.
 */
export class LoginThrottle {
  private readonly clients = new Map<string, ClientFailures>();
  private readonly freeFailures: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxClients: number;
  private readonly now: () => number;

  constructor(options: LoginThrottleOptions = {}) {
    this.freeFailures = options.freeFailures ?? 10;
    this.baseDelayMs = options.baseDelayMs ?? 1000;
    this.maxDelayMs = options.maxDelayMs ?? 15 * 60_000;
    this.maxClients = options.maxClients ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Seconds the client must still wait (for Retry-After), or 0 when its login may be checked. */
  waitSeconds(client: string): number {
    const entry = this.clients.get(client);
    if (!entry) return 0;
    const left = entry.blockedUntil - this.now();
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  /** True for the first request refused in the client's current wait (to log it once). */
  firstRefusalOfWait(client: string): boolean {
    const entry = this.clients.get(client);
    if (!entry || entry.logged === entry.blockedUntil) return false;
    entry.logged = entry.blockedUntil;
    return true;
  }

  failed(client: string): void {
    const now = this.now();
    const entry = this.clients.get(client) ?? { failures: 0, blockedUntil: 0, last: now };
    entry.failures += 1;
    entry.last = now;
    // The free failures spent, each further one doubles the wait: 1 s after the 10th, 2 s after the 11th…
    const over = entry.failures - this.freeFailures;
    if (over >= 0) entry.blockedUntil = now + Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(over, 30));
    // Re-inserted last, so the map's first key is the client heard from longest ago.
    this.clients.delete(client);
    this.clients.set(client, entry);
    if (this.clients.size > this.maxClients) this.clients.delete(this.clients.keys().next().value as string);
  }

  succeeded(client: string): void {
    this.clients.delete(client);
  }
}

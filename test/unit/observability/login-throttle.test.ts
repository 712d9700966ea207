import { describe, expect, it } from 'vitest';
import { LoginThrottle } from '../../../src/observability/dashboard-auth.js';

describe('LoginThrottle', () => {
  it('lets a client fail 10 times, then doubles its wait from 1 s up to 15 min; a success forgets it', () => {
    let now = 0;
    const throttle = new LoginThrottle({ now: () => now });
    for (let i = 0; i < 9; i += 1) {
      throttle.failed('a');
      expect(throttle.waitSeconds('a')).toBe(0);
    }
    throttle.failed('a');
    expect(throttle.waitSeconds('a')).toBe(1);
    expect(throttle.firstRefusalOfWait('a')).toBe(true);
    expect(throttle.firstRefusalOfWait('a')).toBe(false);
    now += 1000;
    throttle.failed('a');
    expect(throttle.waitSeconds('a')).toBe(2);
    for (let i = 0; i < 40; i += 1) throttle.failed('a');
    expect(throttle.waitSeconds('a')).toBe(15 * 60);
    expect(throttle.waitSeconds('b')).toBe(0);
    throttle.succeeded('a');
    expect(throttle.waitSeconds('a')).toBe(0);
  });

  it('remembers at most maxClients, forgetting the one heard from longest ago', () => {
    const throttle = new LoginThrottle({ freeFailures: 0, maxClients: 2 });
    throttle.failed('a');
    throttle.failed('b');
    throttle.failed('c');
    expect(throttle.waitSeconds('a')).toBe(0);
    expect(throttle.waitSeconds('b')).toBeGreaterThan(0);
    expect(throttle.waitSeconds('c')).toBeGreaterThan(0);
  });
});

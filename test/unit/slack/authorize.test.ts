import { describe, expect, it } from 'vitest';
import { authorizeCommand, authorizeRequest, commandLabel, requiredRole } from '../../../src/slack/authorize.js';

const settings = {
  channels: ['C0OPS'],
  users: { U0VIEW: ['viewer' as const], U0OPER: ['operator' as const], U0APPR: ['approver' as const] },
};

describe('authorizeRequest', () => {
  it('answers only in listed channels, and only to listed users', () => {
    expect(authorizeRequest(settings, { user: 'U0OPER', channel: 'C0OPS' })).toEqual({ ok: true, roles: ['operator'] });
    expect(authorizeRequest(settings, { user: 'U0OPER', channel: 'C0ELSE' })).toEqual({
      ok: false,
      refusal: { reason: 'channel', channel: 'C0ELSE' },
    });
    expect(authorizeRequest(settings, { user: 'U0NOBODY', channel: 'C0OPS' })).toEqual({
      ok: false,
      refusal: { reason: 'user', user: 'U0NOBODY' },
    });
  });

  it('does not read roles off the prototype', () => {
    expect(authorizeRequest(settings, { user: 'constructor', channel: 'C0OPS' })).toMatchObject({ ok: false });
    expect(authorizeRequest(settings, { user: '__proto__', channel: 'C0OPS' })).toMatchObject({ ok: false });
  });
});

describe('authorizeCommand', () => {
  const create = { name: 'cluster.create' as const, cluster: 'x', dryRun: false };

  it('lets any role read, including a dry run', () => {
    for (const command of [
      { name: 'help' as const },
      { name: 'jobs' as const },
      { name: 'status' as const },
      { ...create, dryRun: true },
    ]) {
      expect(requiredRole(command)).toBe('viewer');
      expect(authorizeCommand(['viewer'], command, 'U0VIEW')).toBeUndefined();
    }
  });

  it('needs operator (or approver, which includes it) to create', () => {
    expect(authorizeCommand(['operator'], create, 'U0OPER')).toBeUndefined();
    expect(authorizeCommand(['approver'], create, 'U0APPR')).toBeUndefined();
    expect(authorizeCommand(['viewer'], create, 'U0VIEW')).toEqual({
      reason: 'role',
      user: 'U0VIEW',
      needs: 'operator',
      has: ['viewer'],
      command: 'cluster create x',
    });
  });

  it('needs operator to ask for a destructive operation, viewer for its dry run and for the audit log', () => {
    const reset = { name: 'node.reset' as const, cluster: 'x', host: 'mq3', dryRun: false };
    const teardown = { name: 'cluster.teardown' as const, cluster: 'x', dryRun: false };
    expect(requiredRole(reset)).toBe('operator');
    expect(requiredRole(teardown)).toBe('operator');
    expect(requiredRole({ ...reset, dryRun: true })).toBe('viewer');
    expect(requiredRole({ name: 'audit' })).toBe('viewer');
    expect(authorizeCommand(['viewer'], reset, 'U0VIEW')).toEqual({
      reason: 'role',
      user: 'U0VIEW',
      needs: 'operator',
      has: ['viewer'],
      command: 'node reset x mq3',
    });
    expect(authorizeCommand(['viewer'], { ...teardown, dryRun: true }, 'U0VIEW')).toBeUndefined();
    expect(authorizeCommand(['approver'], teardown, 'U0APPR')).toBeUndefined();
  });

  it('labels commands as they are typed', () => {
    expect(commandLabel({ name: 'node.add', cluster: 'x', host: 'mq4', dryRun: true })).toBe(
      'node add x mq4 --dry-run',
    );
    expect(commandLabel({ name: 'cluster.teardown', cluster: 'x', dryRun: false })).toBe('cluster teardown x');
    expect(commandLabel({ name: 'audit', cluster: 'x' })).toBe('audit x');
    expect(commandLabel({ name: 'audit' })).toBe('audit');
  });
});

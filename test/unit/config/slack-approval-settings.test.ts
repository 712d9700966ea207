import { describe, expect, it } from 'vitest';
import { SlackSettings } from '../../../src/config/schema.js';

describe('slack approval settings', () => {
  it('default to no self-approval and a 15-minute timeout', () => {
    expect(SlackSettings.parse({})).toEqual({
      channels: [],
      users: {},
      allowSelfApproval: false,
      approvalTimeoutMinutes: 15,
    });
  });

  it('accept a team of one and timeouts from a minute to a day', () => {
    expect(SlackSettings.parse({ allowSelfApproval: true, approvalTimeoutMinutes: 1 })).toMatchObject({
      allowSelfApproval: true,
      approvalTimeoutMinutes: 1,
    });
    expect(SlackSettings.parse({ approvalTimeoutMinutes: 1440 }).approvalTimeoutMinutes).toBe(1440);
  });

  it.each([0, 1441, 2.5, -1, '15'])('refuse a timeout of %j', (value) => {
    expect(SlackSettings.safeParse({ approvalTimeoutMinutes: value }).success).toBe(false);
  });

  it('refuse a self-approval switch that is not a boolean', () => {
    expect(SlackSettings.safeParse({ allowSelfApproval: 'yes' }).success).toBe(false);
  });
});

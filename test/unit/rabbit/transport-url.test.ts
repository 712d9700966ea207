import { describe, expect, it } from 'vitest';
import { transportUrlTemplate } from '../../../src/rabbit/transport-url.js';
import { labConfig } from '../../support/inventory.js';

describe('transportUrlTemplate', () => {
  it('lists every node with USER/PASS placeholders, never a password', () => {
    const { hosts } = labConfig(3);

    expect(transportUrlTemplate(hosts)).toBe(
      'rabbit://USER:PASS@10.213.0.11:5672,USER:PASS@10.213.0.12:5672,USER:PASS@10.213.0.13:5672/',
    );
  });

  it('brackets IPv6 addresses and encodes a vhost', () => {
    const { hosts } = labConfig(2, {}, (i) => (i === 0 ? { address: 'fd00::11' } : {}));

    expect(transportUrlTemplate(hosts, 5671, 'open/stack')).toBe(
      'rabbit://USER:PASS@[fd00::11]:5671,USER:PASS@10.213.0.12:5671/open%2Fstack',
    );
  });
});

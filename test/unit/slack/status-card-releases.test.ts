import { describe, expect, it } from 'vitest';
import { renderHealth } from '../../../src/cli/render.js';
import { evaluateHealth, parseClusterStatus } from '../../../src/rabbit/cluster-status.js';
import { buildStatusCard } from '../../../src/slack/messages/status-card.js';
import { fixture } from '../../support/fixtures.js';

const T4 = new Map(['rabbit@t4n1', 'rabbit@t4n2', 'rabbit@t4n3'].map((n) => [n, n.replace('rabbit@', '')]));

/** A real 4.3.6 cluster's health with what status adds on 4.x. */
function health43() {
  const base = evaluateHealth(
    't4',
    parseClusterStatus(fixture('rabbitmq-4.3/cluster_status.3nodes.json'), 't4n1'),
    T4,
    't4n1',
  );
  return { ...base, metadataStore: 'Khepri', featureFlagsNotEnabled: ['rabbitmq_4.3.0'], underReplicatedQueues: [] };
}

describe('status on 4.x shows the metadata store and the feature flags not enabled', () => {
  it('in the terminal', () => {
    expect(renderHealth(health43())).toMatch(
      /\n {2}metadata store: Khepri\n {2}feature flags not enabled: rabbitmq_4\.3\.0$/,
    );
  });

  it('on the Slack card, in its context line', () => {
    const card = buildStatusCard(health43());
    expect(JSON.stringify(card.blocks.at(-1))).toContain(
      'read from `t4n1` · metadata store Khepri · feature flags not enabled: `rabbitmq_4.3.0`',
    );
  });

  it('and neither on 3.10, where status reads no such thing', () => {
    const base = evaluateHealth(
      'lab',
      parseClusterStatus(fixture('rabbitmq-3.10/cluster_status.clean.json'), 'lab1'),
      new Map([['rabbit@lab1', 'lab1']]),
      'lab1',
    );
    expect(renderHealth(base)).not.toMatch(/metadata store/);
    expect(JSON.stringify(buildStatusCard(base).blocks.at(-1))).not.toMatch(/metadata store/);
  });
});

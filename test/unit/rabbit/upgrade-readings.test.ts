import { describe, expect, it } from 'vitest';
import { DeprecatedFeatures, hasDeprecatedFeatures } from '../../../src/rabbit/deprecated-features.js';
import { Policies, mirroringPolicies } from '../../../src/rabbit/policies.js';
import { readDeprecatedFeaturesInUse, readMirroringPolicies } from '../../../src/rabbit/queries.js';
import { parseJsonOutput } from '../../../src/rabbit/cluster-status.js';
import { fixture } from '../../support/fixtures.js';
import { labCluster } from '../../support/inventory.js';
import { RecordingShells, scripted } from '../../support/recording-shells.js';

const cluster = labCluster(1);
const host = cluster.seed;

describe('deprecated features and mirroring policies (real 3.10.8, 4.0.5, 4.3.6 output)', () => {
  it('parses list_deprecated_features from 4.0.5 (name, phase) and 4.3.6 (with state)', () => {
    const on40 = DeprecatedFeatures.parse(JSON.parse(fixture('rabbitmq-4.0/list_deprecated_features.json')));
    const on43 = DeprecatedFeatures.parse(JSON.parse(fixture('rabbitmq-4.3/list_deprecated_features.json')));
    expect(on40.find((f) => f.name === 'classic_queue_mirroring')?.deprecation_phase).toBe('removed');
    expect(on43.find((f) => f.name === 'ram_node_type')?.deprecation_phase).toBe('removed');
    expect(
      DeprecatedFeatures.parse(JSON.parse(fixture('rabbitmq-4.3/list_deprecated_features.used.none.json'))),
    ).toEqual([]);
  });

  it('asks 3.13 and later (and an unknown version), never 3.10', () => {
    expect(hasDeprecatedFeatures('3.10.8')).toBe(false);
    expect(hasDeprecatedFeatures('3.13.0')).toBe(true);
    expect(hasDeprecatedFeatures('4.3.6')).toBe(true);
    expect(hasDeprecatedFeatures(undefined)).toBe(true);
  });

  it('finds the ha-all policy warren sets on 3.10 (definition printed as a JSON string)', () => {
    const policies = Policies.parse(JSON.parse(fixture('rabbitmq-3.10/list_policies.ha-all.json')));
    expect(mirroringPolicies('/', policies)).toEqual([{ vhost: '/', name: 'ha-all', pattern: '.*', haMode: 'all' }]);
    expect(mirroringPolicies('/', Policies.parse(JSON.parse(fixture('rabbitmq-4.0/list_policies.none.json'))))).toEqual(
      [],
    );
  });

  it('keeps policies without ha-mode out, reads an object definition, refuses a definition that is not JSON', () => {
    const policies = Policies.parse([
      { vhost: 'v', name: 'ttl', pattern: '.*', definition: '{"message-ttl":1000}' },
      { vhost: 'v', name: 'ha-two', pattern: '^q', definition: { 'ha-mode': 'exactly', 'ha-params': 2 } },
    ]);
    expect(mirroringPolicies('v', policies)).toEqual([
      { vhost: 'v', name: 'ha-two', pattern: '^q', haMode: 'exactly' },
    ]);
    expect(() =>
      parseJsonOutput(Policies, JSON.stringify([{ name: 'x', definition: 'not json' }]), 'lab1', 'list_policies'),
    ).toThrow(/unexpected shape/);
  });

  it('bounds what a host may print: more rows than any node has are refused', () => {
    const many = JSON.stringify(Array.from({ length: 1_001 }, (_, i) => ({ name: `f${i}` })));
    expect(() => parseJsonOutput(DeprecatedFeatures, many, 'lab1', 'list_deprecated_features')).toThrow(
      /unexpected shape/,
    );
  });

  it('asks the node for deprecated features in use on 4.x, and not at all on 3.10', async () => {
    const shells = new RecordingShells(
      cluster.hosts,
      scripted([
        [
          host.name,
          /list_deprecated_features --used/,
          { code: 0, stdout: '[{"name":"transient_nonexcl_queues","deprecation_phase":"permitted_by_default"}]' },
        ],
      ]),
    );
    expect(await readDeprecatedFeaturesInUse(shells, host, '4.0.5')).toEqual(['transient_nonexcl_queues']);
    expect(await readDeprecatedFeaturesInUse(shells, host, '3.10.8')).toBe('unsupported');
    expect(shells.commandsOn(host.name)).toEqual([
      'if command -v pgrep >/dev/null && ! pgrep -x beam.smp >/dev/null; ' +
        'then exit 69; fi; rabbitmq-diagnostics -q list_deprecated_features ' +
        '--used --formatter json </dev/null',
    ]);
  });

  it(
    "takes 3.10's exit 64 'not found' as unsupported (a node of unknown " + 'version), exit 69 as not answering',
    async () => {
      const notFound = new RecordingShells(cluster.hosts, () => ({
        code: 64,
        stderr: fixture('rabbitmq-3.10/list_deprecated_features.used.exit64.stderr.txt'),
      }));
      expect(await readDeprecatedFeaturesInUse(notFound, host, undefined)).toBe('unsupported');
      const down = new RecordingShells(cluster.hosts, () => ({ code: 69 }));
      expect(await readDeprecatedFeaturesInUse(down, host, '4.3.6')).toBeUndefined();
    },
  );

  it('reads the policies of every vhost', async () => {
    const shells = new RecordingShells(
      cluster.hosts,
      scripted([
        [host.name, /list_vhosts/, { code: 0, stdout: '[{"name":"/"},{"name":"openstack"}]' }],
        [
          host.name,
          /list_policies --formatter json --vhost \/ /,
          { code: 0, stdout: fixture('rabbitmq-3.10/list_policies.ha-all.json') },
        ],
        [
          host.name,
          /list_policies --formatter json --vhost openstack/,
          {
            code: 0,
            stdout: JSON.stringify([
              {
                vhost: 'openstack',
                name: 'ha-os',
                pattern: '^(?!amq\\.).*',
                definition: JSON.stringify({ 'ha-mode': 'all', 'ha-sync-mode': 'automatic' }),
              },
            ]),
          },
        ],
      ]),
    );
    expect(await readMirroringPolicies(shells, host)).toEqual([
      { vhost: '/', name: 'ha-all', pattern: '.*', haMode: 'all' },
      { vhost: 'openstack', name: 'ha-os', pattern: '^(?!amq\\.).*', haMode: 'all' },
    ]);
    expect(shells.matching(/list_policies/)).toEqual([
      'lab1: runuser -u rabbitmq -- rabbitmqctl -q list_policies --formatter json --vhost / </dev/null',
      'lab1: runuser -u rabbitmq -- rabbitmqctl -q list_policies --formatter json --vhost openstack </dev/null',
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import {
  FeatureFlags,
  enablesAllAtOnce,
  flagsNotEnabled,
  flagsToEnable,
  impliedMetadataStore,
  metadataStoreOf,
} from '../../../src/rabbit/feature-flags.js';
import { fixture } from '../../support/fixtures.js';

const flagsOf = (path: string) => FeatureFlags.parse(JSON.parse(fixture(path)));

describe('feature flags (real 4.0.5 and 4.3.6 output)', () => {
  it('reads Mnesia on 4.0 (khepri_db disabled, experimental) and Khepri on 4.3 (required)', () => {
    expect(metadataStoreOf(flagsOf('rabbitmq-4.0/list_feature_flags.json'))).toBe('mnesia');
    expect(metadataStoreOf(flagsOf('rabbitmq-4.3/list_feature_flags.json'))).toBe('khepri');
  });

  it('finds no stable flag disabled on fresh nodes: the experimental khepri_db does not count', () => {
    expect(flagsNotEnabled(flagsOf('rabbitmq-4.0/list_feature_flags.json'))).toEqual([]);
    expect(flagsNotEnabled(flagsOf('rabbitmq-4.3/list_feature_flags.json'))).toEqual([]);
  });

  it('names stable flags left disabled (as after an upgrade), sorted', () => {
    const flags = flagsOf('rabbitmq-4.0/list_feature_flags.json').map((f) =>
      f.name === 'rabbitmq_4.0.0' || f.name === 'message_containers_deaths_v2' ? { ...f, state: 'disabled' } : f,
    );
    expect(flagsNotEnabled(flags)).toEqual(['message_containers_deaths_v2', 'rabbitmq_4.0.0']);
  });

  it('settles the store from the version where it can: 3.10 Mnesia, 4.3 Khepri, 4.0 must be asked', () => {
    expect(impliedMetadataStore('3.10.8')).toBe('mnesia');
    expect(impliedMetadataStore('4.3.6')).toBe('khepri');
    expect(impliedMetadataStore('4.0.5')).toBeUndefined();
    expect(impliedMetadataStore('3.13.7')).toBeUndefined();
  });
});

describe('flagsToEnable and enablesAllAtOnce (real 3.10.8 and 4.0.5 output)', () => {
  it('names the stable flags disabled: never the experimental khepri_db, never a required one', () => {
    expect(flagsToEnable(flagsOf('rabbitmq-3.10/list_feature_flags.stream_queue-disabled.json'))).toEqual([
      'stream_queue',
    ]);
    expect(flagsToEnable(flagsOf('rabbitmq-4.0/list_feature_flags.local_random-disabled.json'))).toEqual([
      'rabbit_exchange_type_local_random',
    ]);
    expect(flagsToEnable(flagsOf('rabbitmq-4.0/list_feature_flags.json'))).toEqual([]);
    expect(flagsToEnable([{ name: 'x', state: 'unavailable', stability: 'stable' }])).toEqual([]);
  });

  it('uses `all` from 3.10 (checked on 3.10.8, 4.0.5, 4.3.6), one by one before or when unknown', () => {
    expect(['3.10.8', '4.0.5', '4.3.6', '3.13.7'].map(enablesAllAtOnce)).toEqual([true, true, true, true]);
    expect(['3.9.29', '3.8.0'].map(enablesAllAtOnce)).toEqual([false, false]);
    expect(enablesAllAtOnce(undefined)).toBe(false);
  });
});

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isWarrenError, messageOf } from '../../../src/errors.js';
import {
  evaluateHealth,
  parseClusterStatus,
  parseJsonOutput,
  splitByKnownNames,
} from '../../../src/rabbit/cluster-status.js';
import { isMissingFromLists } from '../../../src/steps/install.js';
import { Policies } from '../../../src/steps/replication.js';
import { installedVersionOf, parseProbe } from '../../../src/steps/preflight.js';
import { compareVersions, upstreamVersion } from '../../../src/rabbit/version.js';
import { seededRandom } from '../../slack/escaping.js';

// Hosts are untrusted input (STYLE.md §18): every parser of remote output runs in time linear in
// what the host printed. The timings below compare a parse with one of the same code on an input
// a fraction of the size (measured in the same test), never with a fixed number of milliseconds.

const SOURCE = fileURLToPath(new URL('../../../src/rabbit/cluster-status.ts', import.meta.url));

/** Names whose concatenations overlap: "r@ar@a" is also "r@a" twice, so a backtracking split tries every grouping. */
const OVERLAPPING = ['r@a', 'r@ar@a', 'r@ar@ar@a'];

/** The fastest of a few runs, in ms: the least disturbed by whatever else the machine does. */
function fastest(work: () => unknown, runs = 3): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    work();
    best = Math.min(best, performance.now() - started);
  }
  return best;
}

function pick<T>(next: () => number, items: readonly T[]): T {
  return items[Math.floor(next() * items.length)];
}

function randomText(next: () => number, max: number): string {
  const alphabet = [
    'r',
    '@',
    'a',
    'b',
    'l',
    '1',
    '{',
    '}',
    '[',
    ']',
    '"',
    ',',
    ':',
    '\\',
    ' ',
    '\n',
    '\u001b',
    '<',
    '&',
    'é',
    '\ud800',
    '\u{1F407}',
  ];
  let text = '';
  const length = Math.floor(next() * max);
  for (let i = 0; i < length; i++) text += pick(next, alphabet);
  return text;
}

/** A cluster_status of `count` members printed as RabbitMQ 4.1.0–4.1.3 do: running_nodes concatenated. */
function concatenatedStatus(count: number): string {
  const names = Array.from({ length: count }, (_, i) => `rabbit@node-${i}`);
  return JSON.stringify({ disk_nodes: names, running_nodes: names.join(''), alarms: [], partitions: {} });
}

describe('splitting concatenated running_nodes', () => {
  // Before the fix this stalled the event loop: ~75 bytes for seconds, 93 bytes for minutes.
  it('splits 93 bytes of crafted overlapping names at once (in a child process, killed after 20 s)', () => {
    const script = `
      import { splitByKnownNames } from ${JSON.stringify(SOURCE)};
      const started = performance.now();
      const result = splitByKnownNames(${JSON.stringify('r@a'.repeat(30) + 'r@b')}, ${JSON.stringify(OVERLAPPING)});
      process.stdout.write(JSON.stringify({ result: result ?? null, ms: performance.now() - started }));`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], {
      encoding: 'utf8',
      timeout: 20_000,
    });

    expect(child.signal, 'the split was still running after 20 s').toBeNull();
    const answer = JSON.parse(child.stdout) as { result: string[] | null; ms: number };
    expect(answer.result).toBeNull();
    expect(answer.ms).toBeLessThan(1000);
  });

  it('keeps the exact split: every character belongs to one name, longest names first', () => {
    expect(splitByKnownNames('rabbit@lab10rabbit@lab1', ['rabbit@lab1', 'rabbit@lab10'])).toEqual([
      'rabbit@lab10',
      'rabbit@lab1',
    ]);
    expect(splitByKnownNames('r@ar@ar@ar@a', OVERLAPPING)).toEqual(['r@ar@ar@a', 'r@a']);
    expect(splitByKnownNames('rabbit@lab1x', ['rabbit@lab1'])).toBeUndefined();
    expect(splitByKnownNames('', ['rabbit@lab1'])).toEqual([]);
    expect(splitByKnownNames('rabbit@lab1', [])).toBeUndefined();
  });

  it('agrees with a brute-force split on random small inputs', () => {
    const next = seededRandom(9);
    const bruteForce = (text: string, names: string[]): string[] | undefined => {
      if (text === '') return [];
      for (const name of [...names].sort((a, b) => b.length - a.length)) {
        if (name === '' || !text.startsWith(name)) continue;
        const rest = bruteForce(text.slice(name.length), names);
        if (rest) return [name, ...rest];
      }
      return undefined;
    };
    for (let i = 0; i < 2000; i++) {
      const names = Array.from({ length: 1 + Math.floor(next() * 4) }, () =>
        Array.from({ length: 1 + Math.floor(next() * 3) }, () => pick(next, ['a', 'b', '@'])).join(''),
      );
      const text = Array.from({ length: Math.floor(next() * 8) }, () =>
        next() < 0.9 ? pick(next, names) : pick(next, ['a', 'b', '@', 'x']),
      ).join('');
      expect(splitByKnownNames(text, names), `${JSON.stringify(text)} by ${JSON.stringify(names)}`).toEqual(
        bruteForce(text, names),
      );
    }
  });

  it('splits a crafted 1 MB string in time linear in its size', () => {
    const crafted = (bytes: number) => 'r@a'.repeat(Math.floor(bytes / 3)) + 'r@b';
    const small = fastest(() => splitByKnownNames(crafted(128 * 1024), OVERLAPPING));
    const large = fastest(() => splitByKnownNames(crafted(1024 * 1024), OVERLAPPING));

    // 8 times the input: linear is ~8 times the time, quadratic ~64 times.
    expect(large).toBeLessThan(Math.max(small, 1) * 30);
  });

  it('gives up, quickly, on names built so that every position walks a long shared prefix', () => {
    const names = Array.from({ length: 250 }, (_, i) => `${'a'.repeat(i + 1)}@a`);
    const crafted = (bytes: number) => `${'a'.repeat(200)}@a`.repeat(Math.floor(bytes / 202));
    const small = fastest(() => splitByKnownNames(crafted(128 * 1024), names));
    const large = fastest(() => splitByKnownNames(crafted(1024 * 1024), names));

    expect(large).toBeLessThan(Math.max(small, 1) * 30);
    // ~200 steps per character is past the budget: no split, rather than a stalled event loop.
    expect(splitByKnownNames(crafted(1024 * 1024), names)).toBeUndefined();
  });
});

describe('parseClusterStatus on hostile output', () => {
  it('parses a 1 MB cluster_status with concatenated running_nodes in time linear in its size', () => {
    const small = concatenatedStatus(4_000);
    const large = concatenatedStatus(32_000);
    expect(large.length).toBeGreaterThan(1024 * 1024);
    const health = (json: string) =>
      evaluateHealth('big', parseClusterStatus(json, 'lab1'), new Map([['rabbit@node-0', 'node-0']]), 'lab1');

    expect(health(large).nodes.filter((n) => n.running)).toHaveLength(32_000);
    const smallMs = fastest(() => health(small));
    const largeMs = fastest(() => health(large));
    expect(largeMs).toBeLessThan(Math.max(smallMs, 1) * 30);
  });

  it('judges health in time linear in the nodes and alarms a host lists', () => {
    const status = (count: number) =>
      JSON.stringify({
        disk_nodes: Array.from({ length: count }, (_, i) => `rabbit@n${i}`),
        ram_nodes: Array.from({ length: count }, (_, i) => `rabbit@r${i}`),
        running_nodes: [],
        alarms: Array.from({ length: count }, (_, i) => ({ node: `rabbit@n${i}`, resource: 'disk' })),
      });
    const expected = (count: number) => new Map(Array.from({ length: count }, (_, i) => [`rabbit@r${i}`, `r${i}`]));
    const small = status(2_500);
    const large = status(20_000);
    const smallMs = fastest(() => evaluateHealth('big', parseClusterStatus(small, 'lab1'), expected(2_500), 'lab1'));
    const largeMs = fastest(() => evaluateHealth('big', parseClusterStatus(large, 'lab1'), expected(20_000), 'lab1'));

    expect(largeMs).toBeLessThan(Math.max(smallMs, 1) * 30);
  });

  it('reports a shape error with a bounded message, however many entries are wrong', () => {
    const json = JSON.stringify({ disk_nodes: Array.from({ length: 50_000 }, (_, i) => `bad${i}`), running_nodes: [] });
    let message = '';
    try {
      parseClusterStatus(json, 'lab1');
    } catch (error) {
      message = messageOf(error);
    }

    expect(message).toMatch(/^cluster_status on lab1 has an unexpected shape: disk_nodes\.0: /);
    expect(message).toContain('more');
    expect(message.length).toBeLessThan(1000);
  });

  it('refuses a node name longer than an Erlang atom can be', () => {
    const long = `rabbit@${'a'.repeat(300)}`;

    expect(() => parseClusterStatus(JSON.stringify({ disk_nodes: [long], running_nodes: [long] }), 'lab1')).toThrow(
      /unexpected shape/,
    );
  });

  it('fuzz: random and crafted outputs parse or are refused as status.unparseable, quickly', () => {
    const next = seededRandom(2026);
    const started = performance.now();
    for (let i = 0; i < 3000; i++) {
      const names = Array.from({ length: Math.floor(next() * 6) }, () =>
        next() < 0.5 ? pick(next, OVERLAPPING) : `${randomText(next, 6)}@${randomText(next, 6)}`,
      );
      const running =
        next() < 0.5
          ? Array.from({ length: Math.floor(next() * 40) }, () => pick(next, names.length ? names : ['x'])).join('') +
            (next() < 0.3 ? 'r@b' : '')
          : names;
      const candidates = [
        randomText(next, 200),
        JSON.stringify({
          disk_nodes: names,
          running_nodes: running,
          alarms: next() < 0.5 ? [randomText(next, 20)] : [{ node: pick(next, names.length ? names : ['x']) }],
          partitions: next() < 0.5 ? [] : { [randomText(next, 8)]: names },
        }),
        JSON.stringify({ disk_nodes: randomText(next, 20), running_nodes: next() < 0.5 ? null : 7 }),
      ];
      const text = pick(next, candidates);
      try {
        const status = parseClusterStatus(text, 'lab1');
        evaluateHealth('fuzz', status, new Map([['rabbit@lab1', 'lab1']]), 'lab1');
      } catch (error) {
        expect(isWarrenError(error) && error.code, JSON.stringify(text)).toBe('status.unparseable');
      }
    }
    // 3000 parses of a few hundred bytes each: a backtracking split would take minutes here.
    expect(performance.now() - started).toBeLessThan(20_000);
  });
});

describe('list_queues and other remote output', () => {
  const Queues = z.array(z.object({ name: z.string() }));

  it('fuzz: random and crafted list_queues outputs parse or are refused as status.unparseable', () => {
    const next = seededRandom(7);
    for (let i = 0; i < 3000; i++) {
      const queues = Array.from({ length: Math.floor(next() * 20) }, () =>
        next() < 0.8 ? { name: randomText(next, 30) } : { name: Math.floor(next() * 10) },
      );
      const text = next() < 0.5 ? JSON.stringify(queues) : randomText(next, 300);
      try {
        expect(parseJsonOutput(Queues, text, 'lab1', 'list_queues').length).toBe(queues.length);
      } catch (error) {
        expect(isWarrenError(error) && error.code, JSON.stringify(text)).toBe('status.unparseable');
        expect(messageOf(error).length).toBeLessThan(1000);
      }
    }
  });

  it('refuses a policy definition that is not JSON as status.unparseable, not a SyntaxError', () => {
    let thrown: unknown;
    try {
      parseJsonOutput(
        Policies,
        JSON.stringify([{ name: 'ha-all', pattern: '.*', definition: '{not json' }]),
        'lab1',
        'list_policies',
      );
    } catch (error) {
      thrown = error;
    }

    expect(isWarrenError(thrown) && thrown.code).toBe('status.unparseable');
    expect(
      parseJsonOutput(
        Policies,
        JSON.stringify([{ name: 'ha-all', pattern: '.*', definition: '{"ha-mode":"all"}' }]),
        'lab1',
        'list_policies',
      )[0].definition,
    ).toEqual({ 'ha-mode': 'all' });
  });

  it('parses a 1 MB list_queues in time linear in its size', () => {
    const listing = (count: number) =>
      JSON.stringify(Array.from({ length: count }, (_, i) => ({ name: `queue-${i}-<!channel>` })));
    const small = listing(4_000);
    const large = listing(32_000);
    expect(large.length).toBeGreaterThan(1024 * 1024);

    expect(parseJsonOutput(Queues, large, 'lab1', 'list_queues')).toHaveLength(32_000);
    const smallMs = fastest(() => parseJsonOutput(Queues, small, 'lab1', 'list_queues'));
    const largeMs = fastest(() => parseJsonOutput(Queues, large, 'lab1', 'list_queues'));
    expect(largeMs).toBeLessThan(Math.max(smallMs, 1) * 30);
  });

  it('reads apt-get stderr for "missing from the lists" in time linear in its size', () => {
    expect(isMissingFromLists("E: Version '9.9.9-1' for 'rabbitmq-server' was not found")).toBe(true);
    expect(isMissingFromLists('E: Unable to locate package rabbitmq-server')).toBe(true);
    expect(isMissingFromLists('E: Could not get lock /var/lib/dpkg/lock-frontend')).toBe(false);
    // Before the fix, `Version .* was not found` rescanned the rest of the line from every "Version ".
    const crafted = (bytes: number) => "Version '".repeat(Math.floor(bytes / 9));
    const smallMs = fastest(() => isMissingFromLists(crafted(128 * 1024)));
    const largeMs = fastest(() => isMissingFromLists(crafted(1024 * 1024)));

    expect(largeMs).toBeLessThan(Math.max(smallMs, 1) * 30);
  });

  it('keeps a bounded probe however much a host prints: values cut to 255 characters, at most 1000 peers', () => {
    const probe = parseProbe(
      `hostname=${'h'.repeat(100_000)}\ninit=systemd\nrabbitmq=\nerlang=\n` +
        `${'unresolved=peer\n'.repeat(50_000)}resolves=${'p'.repeat(10_000)}\n`,
      'lab1',
    );

    expect(probe.hostname).toHaveLength(255);
    expect(probe.unresolved).toHaveLength(1000);
    expect(probe.resolves[0]).toHaveLength(255);
  });

  it('reads the preflight probe, dpkg-query and versions of 1 MB in time linear in its size', () => {
    const probe = (bytes: number) =>
      `hostname=lab1\ninit=systemd\nrabbitmq=install ok ` +
      `installed|3.10.8-1\nerlang=1:25.2+dfsg-1\n` +
      `${'resolves=lab2\n'.repeat(Math.floor(bytes / 14))}`;
    const everything = (bytes: number) => {
      const parsed = parseProbe(probe(bytes), 'lab1');
      installedVersionOf(`install ok installed|${'1-'.repeat(bytes / 2)}`);
      upstreamVersion(`1:${'-+dfsg'.repeat(bytes / 6)}`);
      compareVersions('3.10.8', `${'1.'.repeat(bytes / 2)}`);
      return parsed;
    };

    expect(everything(1024).hostname).toBe('lab1');
    const smallMs = fastest(() => everything(128 * 1024));
    const largeMs = fastest(() => everything(1024 * 1024));
    expect(largeMs).toBeLessThan(Math.max(smallMs, 1) * 30);
  });
});

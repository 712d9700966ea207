import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AfterAck } from '../../../src/slack/after-ack.js';

/** A task that records when it runs and finishes only when told to. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe('AfterAck', () => {
  it('runs at most `concurrency` tasks of a lane at once, in order, and each lane on its own', async () => {
    const queue = new AfterAck(pino({ level: 'silent' }), { concurrency: { slack: 2, ssh: 1 } });
    const started: string[] = [];
    const gates = new Map<string, ReturnType<typeof gate>>();
    const task = (name: string) => () => {
      started.push(name);
      const g = gate();
      gates.set(name, g);
      return g.opened;
    };
    for (const name of ['s1', 's2', 's3']) queue.run('slack', task(name));
    for (const name of ['h1', 'h2']) queue.run('ssh', task(name));
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual(['s1', 's2', 'h1']);

    gates.get('s1')!.open();
    await new Promise((r) => setTimeout(r, 5));
    expect(started).toEqual(['s1', 's2', 'h1', 's3']);

    for (const name of ['s2', 's3', 'h1']) gates.get(name)!.open();
    await new Promise((r) => setTimeout(r, 5));
    gates.get('h2')!.open();
    await queue.idle();
    expect(started).toEqual(['s1', 's2', 'h1', 's3', 'h2']);
  });

  it('does not start a task before the caller has returned (the ack goes out first)', async () => {
    const queue = new AfterAck(pino({ level: 'silent' }));
    const order: string[] = [];
    queue.run('slack', () => {
      order.push('task');
      return Promise.resolve();
    });
    order.push('caller returned');
    await queue.idle();
    expect(order).toEqual(['caller returned', 'task']);
  });

  it('logs a failing task and keeps going', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => lines.push(line) });
    const queue = new AfterAck(logger, { concurrency: { slack: 1, ssh: 1 } });
    let ran = false;
    queue.run('slack', () => Promise.reject(new Error('boom')));
    queue.run('slack', () => {
      ran = true;
      return Promise.resolve();
    });
    await queue.idle();
    expect(ran).toBe(true);
    expect(lines.join('')).toContain('"err":"boom"');
  });

  it(
    'starts no follow-up while the receiver has a request unanswered, and ' + 'starts them once all are answered',
    async () => {
      const server = new EventEmitter();
      const queue = new AfterAck(pino({ level: 'silent' }), { maxDeferMs: 60_000 });
      queue.watch(server);
      const first = new EventEmitter();
      const second = new EventEmitter();
      server.emit('request', {}, first);
      server.emit('request', {}, second);
      const started: string[] = [];
      queue.run('slack', () => {
        started.push('card');
        return Promise.resolve();
      });
      queue.run('ssh', () => {
        started.push('status');
        return Promise.resolve();
      });
      await new Promise((r) => setTimeout(r, 5));
      expect(started).toEqual([]);

      first.emit('close');
      await new Promise((r) => setTimeout(r, 5));
      expect(started).toEqual([]);

      second.emit('close');
      await queue.idle();
      expect(started).toEqual(['card', 'status']);
    },
  );

  it('starts a deferred follow-up after maxDeferMs even if requests keep coming', async () => {
    const server = new EventEmitter();
    const queue = new AfterAck(pino({ level: 'silent' }), { maxDeferMs: 20 });
    queue.watch(server);
    server.emit('request', {}, new EventEmitter());
    let ran = false;
    queue.run('slack', () => {
      ran = true;
      return Promise.resolve();
    });
    await new Promise((r) => setTimeout(r, 5));
    expect(ran).toBe(false);
    await queue.idle();
    expect(ran).toBe(true);
  });
});

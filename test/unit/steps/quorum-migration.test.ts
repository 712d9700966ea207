import { describe, expect, it } from 'vitest';
import { isWarrenError } from '../../../src/errors.js';
import { deleteQueueCommand, listVhostQueuesCommand } from '../../../src/rabbit/quorum-migration.js';
import type { ShownQueue } from '../../../src/rabbit/quorum-migration.js';
import { deleteClassicQueues, whyKept } from '../../../src/steps/quorum-migration.js';
import { declareStep } from '../../../src/steps/step.js';
import { labCluster } from '../../support/inventory.js';
import { RecordingShells } from '../../support/recording-shells.js';
import { stepContext } from '../../support/step-context.js';

const q = (name: string, messages: number, consumers = 0, vhost = '/'): ShownQueue => ({
  vhost,
  name,
  messages,
  consumers,
});

/** A node's queues that answers list_queues and delete_queue (--if-unused refused with 69, as 4.3.6 does). */
function fakeNode(queues: Map<string, ShownQueue & { type?: string }>) {
  return (_host: string, command: string) => {
    const list = /list_queues --formatter json --vhost=(\S+) /.exec(command);
    if (list) {
      const vhost = list[1].replace(/^'|'$/g, '');
      const rows = [...queues.values()]
        .filter((x) => x.vhost === vhost)
        .map((x) => ({ name: x.name, type: x.type ?? 'classic', messages: x.messages, consumers: x.consumers }));
      return { code: 0, stdout: JSON.stringify(rows) };
    }
    for (const queue of queues.values())
      if (command === deleteQueueCommand(queue).text) {
        if (queue.consumers > 0) return { code: 69, stderr: 'Error:\nQueue is in use' };
        queues.delete(queue.name);
        return { code: 0, stdout: `Queue was successfully deleted with ${queue.messages} ready messages` };
      }
    return { code: 64, stderr: 'Error:\nQueue not found' };
  };
}

describe('rabbit:delete-classic-queues', () => {
  it('deletes exactly the shown queues that did not change, keeps the others, names the unshown', async () => {
    const cluster = labCluster(3);
    const node = new Map<string, ShownQueue & { type?: string }>([
      ['keep', q('keep', 3)],
      ['grew', q('grew', 5)],
      ['busy', q('busy', 0, 1)],
      ['new', q('new', 1)],
      ['requorum', { ...q('requorum', 0), type: 'quorum' }],
    ]);
    const shells = new RecordingShells(cluster.hosts, fakeNode(node));
    const shown = [q('keep', 3), q('grew', 2), q('busy', 0), q('gone', 1), q('requorum', 0)];
    const { ctx } = stepContext(cluster, shells, { job: { classicQueues: shown } });

    const outcome = await declareStep(deleteClassicQueues).execute(ctx);

    // read, delete the one that holds, read again: nothing else
    expect(shells.commands.map((c) => c.command)).toEqual([
      listVhostQueuesCommand('/').text,
      deleteQueueCommand(q('keep', 3)).text,
      listVhostQueuesCommand('/').text,
    ]);
    expect(shells.commands.every((c) => c.host === 'lab1')).toBe(true);
    expect(outcome?.output?.deleted).toEqual([q('keep', 3)]);
    expect(outcome?.output?.kept.map((k) => [k.queue.name, k.why])).toEqual([
      ['grew', 'got messages since it was shown (2 -> 5)'],
      ['busy', 'has 1 consumer(s) now'],
      ['gone', 'gone (deleted since, or no longer classic)'],
      ['requorum', 'gone (deleted since, or no longer classic)'],
    ]);
    expect(outcome?.output?.appeared.map((x) => x.name)).toEqual(['new']);
    expect(outcome?.detail).toBe('1 of 5 shown classic queue(s) deleted, 4 kept');
    expect([...node.keys()]).toEqual(['grew', 'busy', 'new', 'requorum']);
  });

  it('keeps a queue whose consumer attached between the read and the delete (--if-unused), and says so', async () => {
    const cluster = labCluster(1);
    const node = new Map<string, ShownQueue>([['late', q('late', 1)]]);
    let reads = 0;
    const base = fakeNode(node);
    const shells = new RecordingShells(cluster.hosts, (host, command) => {
      if (command.includes('list_queues') && reads++ === 0) {
        const reply = base(host, command);
        node.set('late', q('late', 1, 1)); // the consumer arrives right after our read
        return reply;
      }
      return base(host, command);
    });
    const { ctx } = stepContext(cluster, shells, { job: { classicQueues: [q('late', 1)] } });

    const outcome = await declareStep(deleteClassicQueues).execute(ctx);

    expect(outcome?.output?.deleted).toEqual([]);
    expect(outcome?.output?.kept.map((k) => k.why)).toEqual(['not deleted: Error:\nQueue is in use']);
    expect(node.has('late')).toBe(true);
  });

  it('refuses a job that names no queues (deletes nothing) and skips one that names an empty list', async () => {
    const cluster = labCluster(1);
    const shells = new RecordingShells(cluster.hosts, () => ({ code: 0, stdout: '[]' }));
    try {
      await declareStep(deleteClassicQueues).execute(stepContext(cluster, shells).ctx);
      expect.unreachable();
    } catch (error) {
      expect(isWarrenError(error) && error.code).toBe('job.invalid');
    }
    expect(
      await declareStep(deleteClassicQueues).execute(stepContext(cluster, shells, { job: { classicQueues: [] } }).ctx),
    ).toBeUndefined();
    expect(shells.commands).toEqual([]);
  });
});

describe('whyKept', () => {
  it('deletes a queue with fewer messages than shown (consumed since), keeps one with more or with consumers', () => {
    expect(whyKept(q('a', 5), q('a', 2))).toBeUndefined();
    expect(whyKept(q('a', 5), q('a', 5))).toBeUndefined();
    expect(whyKept(q('a', 5), q('a', 6))).toMatch(/got messages since/);
    expect(whyKept(q('a', 5), q('a', 0, 1))).toBe('has 1 consumer(s) now');
    expect(whyKept(q('a', 5), undefined)).toMatch(/^gone/);
  });
});

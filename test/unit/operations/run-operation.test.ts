import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { outputOf } from '../../../src/operations/operation.js';
import type { OperationDefinition, OperationOutcome } from '../../../src/operations/operation.js';
import { WarrenError } from '../../../src/errors.js';
import { runOperation } from '../../../src/operations/run-operation.js';
import type { StepReport } from '../../../src/operations/run-operation.js';
import { declareStep } from '../../../src/steps/step.js';
import type { DeclaredStep, StepContext, StepOutcome } from '../../../src/steps/step.js';
import { labCluster } from '../../support/inventory.js';
import { sh } from '../../../src/ssh/quote.js';
import type { Shells } from '../../../src/ssh/session.js';
import { RecordingShells, scripted } from '../../support/recording-shells.js';
import { MemoryMembership, silentLogger } from '../../support/step-context.js';

/** A fake step: logs its run into `log` and does what `work` says. */
function fakeStep(
  id: string,
  log: string[],
  work: (ctx: StepContext) => Promise<StepOutcome | undefined> = () => Promise.resolve({ detail: `${id} done` }),
): DeclaredStep {
  return {
    id,
    title: `Fake ${id}`,
    skippedDetail: `${id} had nothing to do`,
    plan: () => [],
    async execute(ctx) {
      log.push(`run ${id}`);
      return work(ctx);
    },
  };
}

function definition(steps: DeclaredStep[], alwaysRun: string[] = []): OperationDefinition<OperationOutcome> {
  return {
    operation: 'cluster.create',
    title: 'Fake operation',
    steps,
    alwaysRun: new Set(alwaysRun),
    buildResult: (outcome) => outcome,
  };
}

/** Runs an operation with recording report and checkpoint callbacks; both append to `log`. */
function run(
  def: OperationDefinition<OperationOutcome>,
  log: string[],
  completedSteps: string[] = [],
  job: { shells?: Shells; signal?: AbortSignal } = {},
) {
  const reports: StepReport[] = [];
  const checkpoints: string[][] = [];
  const cluster = labCluster(3);
  const result = runOperation({
    definition: def,
    cluster,
    shells: job.shells ?? new RecordingShells(cluster.hosts, scripted([])),
    ...(job.signal ? { signal: job.signal } : {}),
    options: { allowWipe: false },
    membership: new MemoryMembership(),
    logger: silentLogger,
    completedSteps,
    report(event) {
      reports.push(event);
      return Promise.resolve();
    },
    saveCheckpoint(steps) {
      checkpoints.push(steps);
      log.push(`checkpoint ${steps.join(',')}`);
      return Promise.resolve();
    },
  });
  return { result, reports, checkpoints };
}

describe('runOperation', () => {
  it('runs the steps in order and checkpoints each before the next starts', async () => {
    const log: string[] = [];
    const def = definition([fakeStep('rabbit:a', log), fakeStep('rabbit:b', log), fakeStep('rabbit:c', log)]);

    const { result, checkpoints } = run(def, log);
    await result;

    expect(log).toEqual([
      'run rabbit:a',
      'checkpoint rabbit:a',
      'run rabbit:b',
      'checkpoint rabbit:a,rabbit:b',
      'run rabbit:c',
      'checkpoint rabbit:a,rabbit:b,rabbit:c',
    ]);
    expect(checkpoints).toEqual([['rabbit:a'], ['rabbit:a', 'rabbit:b'], ['rabbit:a', 'rabbit:b', 'rabbit:c']]);
  });

  it('reports each step running, then done with its detail', async () => {
    const log: string[] = [];
    const def = definition([fakeStep('rabbit:a', log), fakeStep('rabbit:b', log, () => Promise.resolve(undefined))]);

    const { result, reports } = run(def, log);
    await result;

    expect(reports.map(({ step, state, detail }) => ({ step, state, detail }))).toEqual([
      { step: 'rabbit:a', state: 'running', detail: undefined },
      { step: 'rabbit:a', state: 'done', detail: 'rabbit:a done' },
      { step: 'rabbit:b', state: 'running', detail: undefined },
      { step: 'rabbit:b', state: 'skipped', detail: 'rabbit:b had nothing to do' },
    ]);
    expect(reports.filter((r) => r.state !== 'running').every((r) => typeof r.durationMs === 'number')).toBe(true);
  });

  it('checkpoints a step that found nothing to do as finished', async () => {
    const log: string[] = [];
    const def = definition([fakeStep('rabbit:a', log, () => Promise.resolve(undefined))]);

    const { result, checkpoints } = run(def, log);
    const outcome = await result;

    expect(checkpoints).toEqual([['rabbit:a']]);
    expect(outcome.steps).toEqual([
      {
        id: 'rabbit:a',
        state: 'skipped',
        durationMs: expect.any(Number) as unknown,
        detail: 'rabbit:a had nothing to do',
      },
    ]);
  });

  it('skips on a second attempt what the first finished, except the always-run steps', async () => {
    const log: string[] = [];
    const def = definition(
      [
        fakeStep('rabbit:preflight', log),
        fakeStep('rabbit:b', log),
        fakeStep('rabbit:c', log),
        fakeStep('rabbit:verify', log),
      ],
      ['rabbit:preflight', 'rabbit:verify'],
    );

    const { result, reports, checkpoints } = run(def, log, ['rabbit:preflight', 'rabbit:b']);
    const outcome = await result;

    expect(log.filter((l) => l.startsWith('run'))).toEqual([
      'run rabbit:preflight',
      'run rabbit:c',
      'run rabbit:verify',
    ]);
    expect(reports.find((r) => r.step === 'rabbit:b')).toEqual({
      step: 'rabbit:b',
      state: 'skipped',
      detail: 'finished by an earlier attempt',
    });
    expect(checkpoints.at(-1)).toEqual(['rabbit:preflight', 'rabbit:b', 'rabbit:c', 'rabbit:verify']);
    expect(outcome.steps.map((s) => [s.id, s.state])).toEqual([
      ['rabbit:preflight', 'done'],
      ['rabbit:b', 'skipped'],
      ['rabbit:c', 'done'],
      ['rabbit:verify', 'done'],
    ]);
  });

  it('stops at a failing step, reports it failed with the code, and rethrows it with the step set', async () => {
    const log: string[] = [];
    const failure = new WarrenError('join.failed', 'lab2 could not join rabbit@lab1', {
      host: 'lab2',
      retryable: true,
      evidence: {
        host: 'lab2',
        command: 'rabbitmqctl -q join_cluster rabbit@lab1 </dev/null',
        exitCode: 69,
        stderr: 'Erlang distribution failed',
      },
    });
    const def = definition([
      fakeStep('rabbit:a', log),
      fakeStep('rabbit:join', log, () => Promise.reject(failure)),
      fakeStep('rabbit:c', log),
    ]);

    const { result, reports, checkpoints } = run(def, log);

    await expect(result).rejects.toSatisfy(
      (error: unknown) => error instanceof WarrenError && error.code === 'join.failed' && error.step === 'rabbit:join',
    );
    expect(log.filter((l) => l.startsWith('run'))).toEqual(['run rabbit:a', 'run rabbit:join']);
    expect(checkpoints).toEqual([['rabbit:a']]);
    const failed = reports.at(-1);
    // The step's own failure event has no host; the host is in the error.
    expect(failed).toMatchObject({ step: 'rabbit:join', state: 'failed', detail: 'lab2 could not join rabbit@lab1' });
    expect(failed?.host).toBeUndefined();
    expect(failed?.error).toMatchObject({
      code: 'join.failed',
      step: 'rabbit:join',
      host: 'lab2',
      retryable: true,
      evidence: { exitCode: 69 },
    });
  });

  it('turns a plain network error into a retryable WarrenError of the step', async () => {
    const log: string[] = [];
    const def = definition([fakeStep('rabbit:a', log, () => Promise.reject(new Error('read ECONNRESET')))]);

    const { result, reports } = run(def, log);

    await expect(result).rejects.toMatchObject({
      code: 'ssh.connection_lost',
      retryable: true,
      step: 'rabbit:a',
      message: 'read ECONNRESET',
    });
    expect(reports.at(-1)?.error).toMatchObject({ code: 'ssh.connection_lost', step: 'rabbit:a' });
  });

  it(
    "calls Redis's closed connection in a step (its progress report) " +
      'redis.unreachable, retryable, not an SSH loss',
    async () => {
      const log: string[] = [];
      const def = definition([fakeStep('rabbit:a', log, () => Promise.reject(new Error('Connection is closed.')))]);

      const { result } = run(def, log);

      await expect(result).rejects.toMatchObject({ code: 'redis.unreachable', retryable: true, step: 'rabbit:a' });
    },
  );

  it('turns any other unexpected error into a non-retryable internal one', async () => {
    const log: string[] = [];
    const def = definition([
      fakeStep('rabbit:a', log, () =>
        Promise.reject(new TypeError("Cannot read properties of undefined (reading 'x')")),
      ),
    ]);

    const { result } = run(def, log);

    await expect(result).rejects.toMatchObject({ code: 'internal', retryable: false, step: 'rabbit:a' });
  });

  it("lets a step's per-host progress through with the step's id", async () => {
    const log: string[] = [];
    const def = definition([
      fakeStep('rabbit:a', log, async (ctx) => {
        await ctx.report({ host: 'lab2', state: 'done', durationMs: 1200, detail: 'started' });
        return { detail: 'ok' };
      }),
    ]);

    const { result, reports } = run(def, log);
    await result;

    expect(reports[1]).toEqual({ step: 'rabbit:a', host: 'lab2', state: 'done', durationMs: 1200, detail: 'started' });
  });

  it('shares facts between steps and hands every record to buildResult', async () => {
    const log: string[] = [];
    const def = definition([
      fakeStep('rabbit:a', log, (ctx) => {
        ctx.facts.set('lab1', {
          host: 'lab1',
          nodeName: 'rabbit@lab1',
          serviceManager: 'sysv',
          rabbitmqVersion: '3.10.8',
        });
        return Promise.resolve({ detail: 'learned', output: { seen: 1 } });
      }),
      fakeStep('rabbit:b', log, (ctx) =>
        Promise.resolve({ detail: `saw ${ctx.facts.get('lab1')?.rabbitmqVersion ?? 'nothing'}` }),
      ),
    ]);

    const { result } = run(def, log);
    const outcome = await result;

    expect(outcome.cluster.cluster.name).toBe('demo');
    expect(outcome.facts.get('lab1')?.rabbitmqVersion).toBe('3.10.8');
    expect(outcome.steps.map(({ id, detail, output }) => ({ id, detail, output }))).toEqual([
      { id: 'rabbit:a', detail: 'learned', output: { seen: 1 } },
      { id: 'rabbit:b', detail: 'saw 3.10.8', output: undefined },
    ]);
  });

  describe('typed outputs', () => {
    const Counted = z.object({ count: z.number().int() });
    /**
     * A declared step whose run returns `output` as it is given (cast: the test plays a step that lies about its type).
     */
    function countingStep(output: unknown): DeclaredStep<z.infer<typeof Counted>> {
      return declareStep<'work', z.infer<typeof Counted>>({
        id: 'rabbit:count',
        title: 'Count',
        skippedDetail: 'nothing to count',
        outputSchema: Counted,
        plan: () => [],
        check: () => Promise.resolve(['work']),
        run: () => Promise.resolve({ detail: 'counted', output: output as z.infer<typeof Counted> }),
      });
    }

    it("keeps a step's output as its schema parses it, and a job reads it back typed through the schema", async () => {
      const step = countingStep({ count: 3, stray: 'not in the schema' });

      const outcome = await run(definition([step]), []).result;

      expect(outcome.steps[0]?.output).toEqual({ count: 3 });
      const count: number | undefined = outputOf(outcome, step)?.count;
      expect(count).toBe(3);
    });

    it('fails the step, as an unexpected error, when its output does not match its schema', async () => {
      const { result, reports } = run(definition([countingStep({ count: 'three' })]), []);

      await expect(result).rejects.toMatchObject({
        retryable: false,
        step: 'rabbit:count',
        message: expect.stringContaining('rabbit:count returned an output its schema refuses: count:') as unknown,
      });
      expect(reports.at(-1)).toMatchObject({ step: 'rabbit:count', state: 'failed' });
    });

    it('parses an output read back from an untyped record (a checkpoint from Redis) with the schema', () => {
      const step = countingStep(undefined);
      const outcome: OperationOutcome = {
        cluster: labCluster(3),
        facts: new Map(),
        steps: [{ id: step.id, state: 'done', output: { count: 'x' } }],
      };

      expect(() => outputOf(outcome, step)).toThrow();
      expect(outputOf({ ...outcome, steps: [] }, step)).toBeUndefined();
    });
  });

  describe('cancellation', () => {
    it('starts no step once the job is cancelled, and ends it with job.cancelled (not retryable)', async () => {
      const log: string[] = [];
      const controller = new AbortController();
      const def = definition([
        fakeStep('rabbit:a', log, () => {
          controller.abort('cancelled by U0OPS');
          return Promise.resolve({ detail: 'a done' });
        }),
        fakeStep('rabbit:b', log),
      ]);

      const { result, reports } = run(def, log, [], { signal: controller.signal });

      await expect(result).rejects.toMatchObject({
        code: 'job.cancelled',
        retryable: false,
        message: 'the job was cancelled: cancelled by U0OPS; step rabbit:b was not started',
      });
      expect(log).toEqual(['run rabbit:a', 'checkpoint rabbit:a']);
      expect(reports.map((r) => `${r.step} ${r.state}`)).toEqual(['rabbit:a running', 'rabbit:a done']);
    });

    it('lets the running command finish and refuses the next one: the step fails as cancelled', async () => {
      const log: string[] = [];
      const controller = new AbortController();
      const cluster = labCluster(3);
      const shells = new RecordingShells(
        cluster.hosts,
        () => {
          controller.abort();
          return { code: 0, stdout: 'done' };
        },
        new Map(),
        { signal: controller.signal },
      );
      const def = definition([
        fakeStep('rabbit:two-commands', log, async (ctx) => {
          const shell = await ctx.shells.shell('lab1');
          await shell.run(sh`rabbitmqctl -q stop_app </dev/null`);
          await shell.run(sh`rabbitmqctl -q reset </dev/null`);
          return { detail: 'both ran' };
        }),
      ]);

      const { result, reports } = run(def, log, [], { shells, signal: controller.signal });

      await expect(result).rejects.toMatchObject({
        code: 'job.cancelled',
        step: 'rabbit:two-commands',
        message: 'the job was cancelled; rabbitmqctl on lab1 was not started',
      });
      expect(shells.commands).toEqual([{ host: 'lab1', command: 'rabbitmqctl -q stop_app </dev/null' }]);
      expect(reports.at(-1)).toMatchObject({
        step: 'rabbit:two-commands',
        state: 'failed',
        error: { code: 'job.cancelled' },
      });
    });

    it('ends as cancelled even when a step turned the refusal into another failure', async () => {
      const log: string[] = [];
      const controller = new AbortController();
      const def = definition([
        fakeStep('rabbit:peer', log, () => {
          controller.abort();
          // as runningPeer does: a node whose read failed counts as not running
          return Promise.reject(new WarrenError('status.unreachable', 'no other member runs', { retryable: true }));
        }),
      ]);

      const { result } = run(def, log, [], { signal: controller.signal });

      await expect(result).rejects.toMatchObject({ code: 'job.cancelled', retryable: false, step: 'rabbit:peer' });
    });
  });
});

describe('runOperation, a step checkpoint of its own', () => {
  it('hands each step what it saved in an earlier attempt, and persists every save at once', async () => {
    const log: string[] = [];
    const seen: unknown[] = [];
    const step = fakeStep('rabbit:roll', log, async (ctx) => {
      seen.push(ctx.checkpoint.read());
      await ctx.checkpoint.save({ nodes: { lab2: 'done', lab3: 'restarting' } });
      seen.push(ctx.checkpoint.read());
      return { detail: 'rolled' };
    });
    const other = fakeStep('rabbit:other', log, (ctx) => {
      seen.push(ctx.checkpoint.read());
      return Promise.resolve({ detail: 'other' });
    });
    const saves: Record<string, unknown>[] = [];
    const cluster = labCluster(3);
    await runOperation({
      definition: definition([step, other]),
      cluster,
      shells: new RecordingShells(cluster.hosts, scripted([])),
      options: { allowWipe: false },
      membership: new MemoryMembership(),
      logger: silentLogger,
      completedSteps: [],
      stepData: { 'rabbit:roll': { nodes: { lab2: 'done' } } },
      report: () => Promise.resolve(),
      saveCheckpoint: () => Promise.resolve(),
      saveStepData: (data) => {
        saves.push(data);
        return Promise.resolve();
      },
    });
    expect(seen).toEqual([{ nodes: { lab2: 'done' } }, { nodes: { lab2: 'done', lab3: 'restarting' } }, undefined]);
    expect(saves).toEqual([{ 'rabbit:roll': { nodes: { lab2: 'done', lab3: 'restarting' } } }]);
  });
});

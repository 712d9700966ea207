import { describe, expect, it } from 'vitest';
import { jobCancelled, pauseUnlessCancelled, throwIfCancelled } from '../../../src/ssh/cancellation.js';

describe('job cancellation', () => {
  it('names the reason it was given and what was refused', () => {
    const controller = new AbortController();
    controller.abort('asked by U0OPS');

    const error = jobCancelled(controller.signal, 'rabbitmqctl on lab2');

    expect(error).toMatchObject({
      code: 'job.cancelled',
      retryable: false,
      message: 'the job was cancelled: asked by U0OPS; rabbitmqctl on lab2 was not started',
    });
  });

  it('does not throw while the signal is not aborted, nor without a signal', () => {
    expect(() => throwIfCancelled(new AbortController().signal, 'x')).not.toThrow();
    expect(() => throwIfCancelled(undefined, 'x')).not.toThrow();
  });

  it('ends a pause as soon as the job is cancelled, not when the pause is over', async () => {
    const controller = new AbortController();
    const started = performance.now();
    const pause = pauseUnlessCancelled(controller.signal, 60_000, 'polling');
    setTimeout(() => controller.abort(), 20);

    await expect(pause).rejects.toMatchObject({
      code: 'job.cancelled',
      message: 'the job was cancelled; polling was not started',
    });
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('waits the whole pause when nobody cancels', async () => {
    const started = performance.now();

    await pauseUnlessCancelled(new AbortController().signal, 50, 'polling');

    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  });
});

import { WarrenError } from '../errors.js';

/**
 * The error of work refused because its job was cancelled (the worker aborted the job's signal).
 * Not retryable: a retry would only be refused again. What finished stays done, each step being
 * idempotent, so asking for the operation again picks up from there.
 */
export function jobCancelled(signal: AbortSignal, refused: string): WarrenError {
  const reason: unknown = signal.reason;
  const why = typeof reason === 'string' && reason !== '' ? `: ${reason.slice(0, 200)}` : '';
  return new WarrenError('job.cancelled', `the job was cancelled${why}; ${refused} was not started`, {
    hint:
      'Commands already running finished; nothing else ran. Ask for the ' +
      'operation again to finish it: steps that finished are skipped or find ' +
      'nothing to do.',
  });
}

/** Throws job.cancelled once `signal` is aborted, naming what was not started. */
export function throwIfCancelled(signal: AbortSignal | undefined, refused: string): void {
  if (signal?.aborted) throw jobCancelled(signal, refused);
}

/** Waits `ms`, or fails with job.cancelled as soon as `signal` is aborted (a poll must not outlive its job). */
export function pauseUnlessCancelled(signal: AbortSignal | undefined, ms: number, during: string): Promise<void> {
  throwIfCancelled(signal, during);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(jobCancelled(signal!, during));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

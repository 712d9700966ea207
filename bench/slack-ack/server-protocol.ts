/**
 * The protocol run.ts speaks with the servers it measures that have no work after their answers
 * (baseline.ts, bolt-floor.ts): `READY {port}` once listening, and on SIGUSR2 `STATS {serverMs,
 * cpuMs}`: each request's server-side time and the CPU used since the last STATS.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

/** Times every request of `server` (headers parsed → response handed to the kernel) and prints READY. */
export function reportToBench(server: Server): void {
  const serverMs: number[] = [];
  server.prependListener('request', (_req, res) => {
    const started = performance.now();
    res.on('finish', () => serverMs.push(performance.now() - started));
  });
  process.stdout.write(`READY ${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
  let cpuSince = process.cpuUsage();
  process.on('SIGUSR2', () => {
    const cpu = process.cpuUsage(cpuSince);
    cpuSince = process.cpuUsage();
    process.stdout.write(
      `STATS ${JSON.stringify({ serverMs: serverMs.splice(0), cpuMs: (cpu.user + cpu.system) / 1000 })}\n`,
    );
  });
}

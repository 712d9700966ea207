/**
 * The floor the bot is measured against: a bare node:http server that reads the body, checks the
 * Slack signature and answers `{}`, as cheaply as an HTTP ack can be on this machine. Same
 * protocol as bot.ts (server-protocol.ts: READY, STATS on SIGUSR2; SIGTERM stops it); run.ts --baseline
 * measures it beside the bot.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { SIGNING_SECRET } from '../../tools/slack-emulator/harness.js';
import { reportToBench } from './server-protocol.js';

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const expected = `v0=${createHmac('sha256', SIGNING_SECRET)
      .update(`v0:${String(req.headers['x-slack-request-timestamp'])}:`)
      .update(body)
      .digest('hex')}`;
    const given = String(req.headers['x-slack-signature']);
    const ok = given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
    res.end('{}');
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
reportToBench(server);
process.on('SIGTERM', () => server.close(() => process.exit(0)));

import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/log/logger.js';

const SECRETS = [
  'xoxb-bot-token-1',
  'hunter2-pass',
  'Bearer abc.def',
  'session=42',
  'COOKIE20LETTERSXXXXX',
  'key-pass-phrase',
  'sig-secret-9',
];

/** Logs through a real pino logger and returns the JSON lines it wrote. */
function logLines(log: (logger: ReturnType<typeof createLogger>) => void): string {
  const destination = new PassThrough();
  const chunks: Buffer[] = [];
  destination.on('data', (chunk: Buffer) => chunks.push(chunk));
  const logger = createLogger({ level: 'info', destination });
  log(logger);
  return Buffer.concat(chunks).toString('utf8');
}

describe('createLogger redaction', () => {
  it('censors secret-bearing fields at any depth: an environment object, an HTTP request, a child binding', () => {
    const out = logLines((logger) => {
      logger.info(
        { env: { SLACK_BOT_TOKEN: SECRETS[0], WARREN_DASHBOARD_PASSWORD: SECRETS[1], LOG_LEVEL: 'info' } },
        'env',
      );
      logger.info(
        {
          deep: {
            a: {
              b: {
                c: { request: { headers: { Authorization: SECRETS[2], Cookie: SECRETS[3], accept: 'text/plain' } } },
              },
            },
          },
        },
        'http',
      );
      logger.info({ job: { steps: [{ shell: { stdin: SECRETS[4] } }] } }, 'array');
      logger
        .child({ host: { privateKeyPassphrase: SECRETS[5] } })
        .info({ slack: { signingSecret: SECRETS[6] } }, 'child');
    });

    for (const secret of SECRETS) expect(out).not.toContain(secret);
    expect(out.split('\n').filter(Boolean)).toHaveLength(4);
    expect(out).toContain('"LOG_LEVEL":"info"');
    expect(out).toContain('"accept":"text/plain"');
    expect(out).toContain('"Authorization":"[redacted]"');
  });

  it("censors a grandchild's bindings and keeps the child's own", () => {
    const out = logLines((logger) =>
      logger
        .child({ jobId: 'j1' })
        .child({ request: { headers: { cookie: SECRETS[3] } } })
        .info('nested child'),
    );

    expect(out).not.toContain(SECRETS[3]);
    expect(JSON.parse(out)).toMatchObject({
      jobId: 'j1',
      request: { headers: { cookie: '[redacted]' } },
      msg: 'nested child',
    });
  });

  it('censors what an HTTP client error carries in its request config', () => {
    const error = Object.assign(new Error('request failed with status 401'), {
      config: { headers: { authorization: SECRETS[2], 'x-api-token': SECRETS[0] } },
    });

    const out = logLines((logger) => logger.error({ err: error }, 'call failed'));

    expect(out).not.toContain(SECRETS[2]);
    expect(out).not.toContain(SECRETS[0]);
    expect(out).toContain('request failed with status 401');
    expect((JSON.parse(out) as { err: { stack: string } }).err.stack).toContain('Error: request failed');
  });

  it('survives a cycle and a very deep or very wide object, and still redacts inside them', () => {
    const cyclic: Record<string, unknown> = { password: SECRETS[1] };
    cyclic.self = cyclic;
    let deep: Record<string, unknown> = { token: SECRETS[0] };
    for (let i = 0; i < 500; i++) deep = { next: deep };
    const wide = Object.fromEntries(
      Array.from({ length: 50_000 }, (_, i) => [`k${i}`, i === 49_999 ? { password: SECRETS[1] } : i]),
    );

    const out = logLines((logger) => logger.info({ cyclic, deep, wide }, 'bounded'));

    for (const secret of SECRETS) expect(out).not.toContain(secret);
    expect(out).toContain('[circular]');
    expect((JSON.parse(out) as { msg: string }).msg).toBe('bounded');
  });
});

import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../../src/cli/main.js';

/** No Docker engine runs here, so the image is checked by reading: it must start what npm starts. */
describe('Dockerfile', () => {
  it('runs the same entry point as package.json, with a command the CLI knows, as a non-root user', async () => {
    const dockerfile = await readFile('Dockerfile', 'utf8');
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as {
      bin: Record<string, string>;
      scripts: Record<string, string>;
    };

    const entrypoint = JSON.parse(/^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile)?.[1] ?? '[]') as string[];
    expect(entrypoint[0]).toBe('node');
    expect(entrypoint[1]).toBe(pkg.bin.warren);
    expect(pkg.scripts.warren).toBe(`node ${pkg.bin.warren}`);

    const cmd = JSON.parse(/^CMD\s+(\[.*\])\s*$/m.exec(dockerfile)?.[1] ?? '[]') as string[];
    const commands = buildProgram(() => undefined).commands.map((c) => c.name());
    expect(commands).toContain(cmd[0]);
    expect(commands).toEqual(expect.arrayContaining(['worker', 'bot']));

    // The build output the entry point names is what `npm run build` writes.
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json');
    expect(dockerfile).toMatch(/RUN npm run build/);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    expect(/^USER\s+(\S+)/m.exec(dockerfile)?.[1]).not.toBe('root');
  });
});

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** A fixture's text, by path under test/fixtures (real captured outputs; see each folder's README). */
export function fixture(path: string): string {
  return readFileSync(root + path, 'utf8');
}

/** A JSON fixture, parsed: for tests that derive a variant from a real sample. */
export function fixtureJson(path: string): Record<string, unknown> {
  return JSON.parse(fixture(path)) as Record<string, unknown>;
}

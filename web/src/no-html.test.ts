// Regression guard for "text is rendered as text": no client source may hand a string to an
// HTML parser. Rendering goes through dom.ts (textContent, setAttribute) only.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('.', import.meta.url));
const FORBIDDEN = /\.(innerHTML|outerHTML)\s*[+]?=|insertAdjacentHTML|document\.write|createContextualFragment|DOMParser|\beval\s*\(|new Function\s*\(/;

describe('web client sources', () => {
  const files = readdirSync(SRC).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));

  it('exist', () => expect(files.length).toBeGreaterThan(5));

  it.each(files)('%s never parses strings as HTML or code', (file) => {
    const lines = readFileSync(join(SRC, file), 'utf8').split('\n');
    const bad = lines.map((line, i) => [i + 1, line] as const).filter(([, line]) => FORBIDDEN.test(line));
    expect(bad).toEqual([]);
  });
});

// The layering rules of STYLE.md, enforced: see scripts/check-imports.mjs. And the size rule:
// a server source file that grows past ~300 lines holds more than one concept; split it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const MAX_LINES = 300;
const SERVER = fileURLToPath(new URL('.', import.meta.url));

/** Source files under server/, without tests, test support and contract suites. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'test' ? [] : sources(path);
    return /\.ts$/.test(name) && !/\.(test|contract)\.ts$/.test(name) ? [path] : [];
  });
}

describe('architecture', () => {
  it('has no import cycles and keeps protocol, domain, transports and adapters apart', async () => {
    const mod = (await import(new URL('../scripts/check-imports.mjs', import.meta.url).href)) as { checkImports(): string[] };
    expect(mod.checkImports()).toEqual([]);
  });

  it(`has no server source file over ${MAX_LINES} lines`, () => {
    const long = sources(SERVER)
      .map((path) => ({ file: relative(SERVER, path), lines: readFileSync(path, 'utf8').trimEnd().split('\n').length }))
      .filter((f) => f.lines > MAX_LINES);
    expect(long).toEqual([]);
  });
});

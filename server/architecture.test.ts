// The layering rules of STYLE.md, enforced: see scripts/check-imports.mjs.
import { describe, expect, it } from 'vitest';

describe('architecture', () => {
  it('has no import cycles and keeps protocol, domain, transports and adapters apart', async () => {
    const mod = (await import(new URL('../scripts/check-imports.mjs', import.meta.url).href)) as { checkImports(): string[] };
    expect(mod.checkImports()).toEqual([]);
  });
});

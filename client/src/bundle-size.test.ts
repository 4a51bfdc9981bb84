// The library's promise to browser apps: under 15 KB minified + gzip, socket.io-client excluded
// (zod is not excluded: the library imports only types from the protocol, and must stay so).
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const LIMIT_BYTES = 15 * 1024;

describe('browser bundle', () => {
  it('client/src/index.ts, minified and gzipped, without socket.io-client, stays under 15 KB', async () => {
    const out = await build({
      entryPoints: [new URL('./index.ts', import.meta.url).pathname],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      external: ['socket.io-client'],
      write: false,
      logLevel: 'silent',
    });
    const code = out.outputFiles[0]!.contents;
    const gzipped = gzipSync(code, { level: 9 }).length;
    expect(gzipped).toBeGreaterThan(1_000); // it did bundle the library
    expect(gzipped).toBeLessThan(LIMIT_BYTES);
  });
});

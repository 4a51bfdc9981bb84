// Bundles the web client with esbuild: web/src/main.ts → dist/web/app.js, plus the static files
// of web/public. Run by `npm run build:web` (tsx web/build.ts); the server imports buildWeb()
// to build on demand when it runs from source and the bundle is missing or stale.
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile, type Plugin } from 'esbuild';

const WEB_DIR = dirname(fileURLToPath(import.meta.url));
export const OUT_DIR = resolve(WEB_DIR, '..', 'dist', 'web');

export interface BuildResult {
  outDir: string;
  /** Bytes of app.js. */
  bundleBytes: number;
  ms: number;
}

export async function buildWeb(opts: { minify?: boolean } = {}): Promise<BuildResult> {
  const started = Date.now();
  await mkdir(OUT_DIR, { recursive: true });
  const result = await build({
    entryPoints: { app: join(WEB_DIR, 'src', 'main.ts') },
    outdir: OUT_DIR,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    minify: opts.minify ?? true,
    sourcemap: 'linked',
    metafile: true,
    legalComments: 'linked',
    logLevel: 'warning',
    // The client must not pull in anything from the server or Node.
    define: { 'process.env.NODE_ENV': '"production"' },
    plugins: [englishOnlyZod],
  });
  const publicDir = join(WEB_DIR, 'public');
  for (const name of await readdir(publicDir)) await copyFile(join(publicDir, name), join(OUT_DIR, name));
  return { outDir: OUT_DIR, bundleBytes: bundleSize(result.metafile), ms: Date.now() - started };
}

/**
 * zod's `z` namespace re-exports every locale (~250 KiB); the client only needs the default
 * English messages, so the locale index resolves to English alone.
 */
const englishOnlyZod: Plugin = {
  name: 'english-only-zod',
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]/.test(args.importer) ? { path: join(dirname(args.importer), '..', 'locales', 'en.js'), namespace: 'zod-locales' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path)};`,
      resolveDir: dirname(args.path),
    }));
  },
};

function bundleSize(meta: Metafile): number {
  const entry = Object.entries(meta.outputs).find(([path]) => path.endsWith('app.js'));
  return entry ? entry[1].bytes : 0;
}

// `tsx web/build.ts`
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildWeb().then(
    (r) => console.log(`web client: ${r.outDir}/app.js, ${(r.bundleBytes / 1024).toFixed(0)} KiB in ${r.ms} ms`),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}

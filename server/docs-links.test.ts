// The README and docs point at files that exist: every relative Markdown link (and its #anchor,
// as GitHub makes heading anchors), and every repository path written as code (`server/app.ts`).
// A file moved or renamed without its docs fails here.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DOCS = [
  ...readdirSync(ROOT).filter((f) => f.endsWith('.md')),
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
/** Top-level folders whose paths the docs cite; build output (dist/) and test output are not among them. */
const SOURCE_DIRS = ['protocol', 'server', 'web', 'loadtest', 'bench', 'tools', 'scripts', 'deploy', 'docs', '.ci'];

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(markdown: string): Set<string> {
  const out = new Set<string>();
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) inFence = !inFence;
    const m = !inFence && /^#{1,6}\s+(.*)$/.exec(line);
    if (m) out.add(slug(m[1]!));
  }
  return out;
}

/** Markdown without fenced code blocks (commands there are not links). */
const prose = (markdown: string) => markdown.replace(/^```[\s\S]*?^```/gm, '');

/** Base names of the TypeScript files under the source folders. */
function tsFileNames(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name === 'dist') continue;
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (entry.name.endsWith('.ts')) names.add(entry.name);
    }
  };
  for (const d of SOURCE_DIRS) if (existsSync(join(ROOT, d))) walk(join(ROOT, d));
  return names;
}

describe('links in the README and docs', () => {
  it('finds the documents', () => {
    expect(DOCS).toEqual(expect.arrayContaining(['README.md', 'PROTOCOL.md', 'BENCHMARKS.md', 'docs/protocol.md', 'docs/rest.md']));
  });

  it('every relative link points at a file that exists, and every #anchor at a heading', () => {
    const broken: string[] = [];
    for (const doc of DOCS) {
      const text = prose(readFileSync(join(ROOT, doc), 'utf8'));
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        if (/^[a-z]+:/i.test(target!)) continue; // http:, https:, mailto:
        const [path, anchor] = target!.split('#') as [string, string | undefined];
        const file = path ? join(dirname(join(ROOT, doc)), decodeURIComponent(path)) : join(ROOT, doc);
        if (!existsSync(file)) {
          broken.push(`${doc}: ${target} (no ${relative(ROOT, file)})`);
          continue;
        }
        if (anchor && file.endsWith('.md') && !anchorsOf(readFileSync(file, 'utf8')).has(anchor))
          broken.push(`${doc}: ${target} (no heading #${anchor})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('every repository path written as code exists', () => {
    const missing: string[] = [];
    const pattern = new RegExp(`\`((?:${SOURCE_DIRS.map((d) => d.replace('.', '\\.')).join('|')})/[\\w./-]*)\``, 'g');
    for (const doc of DOCS) {
      const text = readFileSync(join(ROOT, doc), 'utf8');
      for (const [, path] of text.matchAll(pattern)) {
        const clean = path!.replace(/[.,:;]+$/, '');
        const target = join(ROOT, clean);
        if (!existsSync(target) || (clean.endsWith('/') && !statSync(target).isDirectory())) missing.push(`${doc}: ${clean}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('every TypeScript file named without its folder exists somewhere (`pipeline.int.test.ts`)', () => {
    const names = tsFileNames();
    const missing: string[] = [];
    for (const doc of DOCS) {
      for (const [, name] of readFileSync(join(ROOT, doc), 'utf8').matchAll(/`([\w.-]+\.ts)`/g)) {
        if (!names.has(name!)) missing.push(`${doc}: ${name}`);
      }
    }
    expect(names.size).toBeGreaterThan(50);
    expect(missing).toEqual([]);
  });
});

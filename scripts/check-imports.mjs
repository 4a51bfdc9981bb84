#!/usr/bin/env node
// Architecture rules, checked on the import statements of every source file. Each top-level area
// says what it may import; there are no per-file exemptions.
// - protocol/ (the wire contract) imports only zod and itself;
// - server/ imports server/ and protocol/; inside it, messaging/ (the domain) carries no
//   Socket.IO, Express or BullMQ types, gateway/ and rest/ never import each other, and only the
//   store adapters (store/mongo/, store/postgres/) import a database driver;
// - loadtest/ (the load generator, a black-box client) imports protocol/, the client library's
//   entry point (client/src/index.ts), tools/ (the storm scenario spawns and stops its own two
//   nodes, as processes) and itself, and no database driver;
// - bench/ (benchmarks, the seed tool, the hand-rolled peer) imports protocol/, loadtest/,
//   tools/ and itself, and from server/ only its public entry points: the store factory
//   (server/store/index.ts) and the store port (server/store/store.ts). Servers under test are
//   child processes, never imports;
// - tools/ (process helpers shared by tests and benchmarks) imports node built-ins only;
// - web/src (the browser client) imports protocol/, the client library's entry point
//   (client/src/index.ts), zod and socket.io-client only;
// - client/ (the client library, for browsers and Node) imports protocol/, zod and socket.io-client only;
// - tests (*.test.ts, server/test/) may import anything in the repository; only bench/'s own
//   tests import bench/;
// - no import cycles, type-only imports included (they couple modules as much as any other).
// Exits 1 listing every violation. Used by `npm run lint` and by server/architecture.test.ts.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const IMPORT = /(?:^|\n)\s*(?:import|export)(?:\s+type)?\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
const AREAS = ['protocol', 'server', 'loadtest', 'bench', 'tools', 'web/src', 'client'];
const DRIVER = /^(mongoose|mongodb|pg)$/;
/** What each area may import from the repository (besides itself). */
const LOCAL = {
  protocol: [],
  server: ['protocol/'],
  loadtest: ['protocol/', 'client/src/index.ts', 'tools/'],
  bench: ['protocol/', 'loadtest/', 'tools/', 'server/store/index.ts', 'server/store/store.ts'],
  tools: [],
  'web/src': ['protocol/', 'client/src/index.ts'],
  client: ['protocol/'],
};

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name === 'reports' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Why `rel` (in `area`) may not import `spec` (resolved to `local` when it is a file of ours), or null. */
function ruleBroken(rel, area, spec, local) {
  const isTest = /\.test\.ts$/.test(rel) || rel.startsWith('server/test/');
  if (isTest) return local?.startsWith('bench/') && area !== 'bench' ? 'tests do not depend on benchmarks' : null;
  if (local) {
    if (local.startsWith(`${area}/`) || LOCAL[area].some((allowed) => local === allowed || (allowed.endsWith('/') && local.startsWith(allowed)))) {
      if (area === 'server') {
        if (rel.startsWith('server/gateway/') && local.startsWith('server/rest/')) return 'gateway and rest never import each other';
        if (rel.startsWith('server/rest/') && local.startsWith('server/gateway/')) return 'gateway and rest never import each other';
      }
      return null;
    }
    if (area === 'bench' && local.startsWith('server/')) return 'benchmarks use the server through its public entry points only (server/store/index.ts, server/store/store.ts)';
    if (area === 'loadtest') return 'the load generator uses the protocol and the client library only';
    return `${area}/ may import ${LOCAL[area].join(', ') || 'nothing else in the repository'}`;
  }
  switch (area) {
    case 'protocol':
      return spec === 'zod' ? null : 'protocol imports only zod';
    case 'tools':
      return spec.startsWith('node:') ? null : 'tools import node built-ins only';
    case 'web/src':
      return /^(zod|socket\.io-client)$/.test(spec) ? null : 'the browser client uses the protocol only';
    case 'client':
      return /^(zod|socket\.io-client)$/.test(spec) ? null : 'the client library depends on zod and socket.io-client only';
    case 'loadtest':
      return DRIVER.test(spec) ? 'the load generator is a client: no database driver' : null;
    case 'server':
      if (rel.startsWith('server/messaging/') && /^(socket\.io|express|bullmq|@socket\.io)/.test(spec)) return 'the domain carries no transport or queue types';
      if (DRIVER.test(spec) && !rel.startsWith('server/store/mongo/') && !rel.startsWith('server/store/postgres/')) return 'only store adapters talk to a database';
      return null;
    default:
      return null;
  }
}

export function checkImports() {
  const violations = [];
  const graph = new Map();
  for (const area of AREAS) {
    for (const file of walk(join(root, area))) {
      const rel = relative(root, file);
      const deps = [];
      for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
        const spec = m[1] ?? m[2];
        const local = spec.startsWith('.') ? relative(root, resolve(dirname(file), spec.replace(/\.js$/, '.ts'))) : null;
        if (local) deps.push(local);
        const why = ruleBroken(rel, area, spec, local);
        if (why) violations.push(`${rel}: imports ${spec} (${why})`);
      }
      graph.set(rel, deps);
    }
  }
  // Cycles, type-only imports included.
  const state = new Map();
  const stack = [];
  const visit = (node) => {
    state.set(node, 'active');
    stack.push(node);
    for (const dep of graph.get(node) ?? []) {
      if (!graph.has(dep)) continue;
      if (state.get(dep) === 'active') violations.push(`import cycle: ${[...stack.slice(stack.indexOf(dep)), dep].join(' -> ')}`);
      else if (!state.has(dep)) visit(dep);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return violations;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const violations = checkImports();
  for (const v of violations) console.error(v);
  console.log(violations.length ? `${violations.length} import rule violation(s)` : 'imports ok');
  process.exit(violations.length ? 1 : 0);
}

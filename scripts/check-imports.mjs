#!/usr/bin/env node
// Architecture rules, checked on the import statements of every source file:
// - protocol/ imports only zod and itself;
// - messaging/ (the domain) imports no Socket.IO, Express or BullMQ;
// - gateway/ and rest/ never import each other;
// - only the store adapters import mongoose or pg;
// - loadtest/ imports protocol/ only (never server/);
// - web/src (the browser client) imports protocol/, zod and socket.io-client only;
// - no runtime import cycles (a type-only import is erased by the compiler, so it cannot form one).
// Exits 1 listing every violation. Used by `npm run lint` and by a unit test.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const IMPORT = /(?:^|\n)\s*(?:import|export)(\s+type)?\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

export function checkImports() {
  const files = ['protocol', 'server', 'loadtest', 'web/src'].flatMap((d) => walk(join(root, d)));
  const violations = [];
  const graph = new Map();
  for (const file of files) {
    const rel = relative(root, file);
    const isTest = /\.test\.ts$/.test(rel) || rel.startsWith('server/test/');
    const src = readFileSync(file, 'utf8');
    const deps = [];
    for (const m of src.matchAll(IMPORT)) {
      const typeOnly = Boolean(m[1]);
      const spec = m[2] ?? m[3];
      const local = spec.startsWith('.') ? relative(root, resolve(dirname(file), spec.replace(/\.js$/, '.ts'))) : null;
      if (local && !typeOnly) deps.push(local);
      const bad = (why) => violations.push(`${rel}: imports ${spec} (${why})`);
      if (rel.startsWith('protocol/') && !local && spec !== 'zod' && !isTest && spec !== 'vitest') bad('protocol imports only zod');
      if (rel.startsWith('protocol/') && local && !local.startsWith('protocol/')) bad('protocol must not import the server');
      if (rel.startsWith('server/messaging/') && !isTest && /^(socket\.io|express|bullmq|@socket\.io)/.test(spec)) bad('the domain carries no transport or queue types');
      if (rel.startsWith('server/gateway/') && local?.startsWith('server/rest/')) bad('gateway and rest never import each other');
      if (rel.startsWith('server/rest/') && local?.startsWith('server/gateway/')) bad('gateway and rest never import each other');
      if (/^(mongoose|mongodb|pg)$/.test(spec) && !rel.startsWith('server/store/mongo/') && !rel.startsWith('server/store/postgres/') && !isTest && !/^loadtest\/(store-bench|gateways)\.ts$/.test(rel))
        bad('only store adapters talk to a database (and the benchmark harness, which provisions databases)');
      if (rel.startsWith('web/src/') && !isTest && (local ? !local.startsWith('protocol/') && !local.startsWith('web/src/') : !/^(zod|socket\.io-client)$/.test(spec)))
        bad('the browser client uses the protocol only');
      if (rel.startsWith('loadtest/') && !isTest && local?.startsWith('server/') && !rel.startsWith('loadtest/store-bench') && !rel.startsWith('loadtest/bench'))
        bad('the load generator uses the protocol only');
    }
    graph.set(rel, deps);
  }
  // Cycles (runtime and type imports alike keep modules apart).
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

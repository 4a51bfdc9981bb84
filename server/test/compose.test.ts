// The deployment files (#7): every compose combination passes `docker-compose config`, and the
// Dockerfile builds what `npm run build` builds and starts it the way `npm start` does, with
// node as PID 1. No Docker engine is needed: `config` only parses, interpolates and validates.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** `docker-compose` (v1, Debian package) or the `docker compose` plugin, whichever answers. */
function composeCommand(): string[] | undefined {
  for (const cmd of [['docker-compose'], ['docker', 'compose']]) {
    const r = spawnSync(cmd[0]!, [...cmd.slice(1), 'version'], { encoding: 'utf8' });
    if (r.status === 0) return cmd;
  }
  return undefined;
}

const compose = composeCommand();
const SECRETS = { JWT_SECRET: 'compose-test-secret', POSTGRES_PASSWORD: 'compose-test-pg', GRAFANA_ADMIN_PASSWORD: 'compose-test-grafana' };

function runCompose(files: string[], args: string[], env: Record<string, string | undefined> = SECRETS) {
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !(k in SECRETS)) childEnv[k] = v;
  for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
  return spawnSync(compose![0]!, [...compose!.slice(1), ...files.flatMap((f) => ['-f', f]), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: childEnv,
  });
}

const COMBINATIONS: { files: string[]; services: string[] }[] = [
  { files: ['docker-compose.yml'], services: ['gateway1', 'gateway2', 'lb', 'mongo', 'redis', 'worker'] },
  { files: ['docker-compose.yml', 'docker-compose.postgres.yml'], services: ['gateway1', 'gateway2', 'lb', 'mongo', 'postgres', 'redis', 'worker'] },
  { files: ['docker-compose.yml', 'docker-compose.monitoring.yml'], services: ['gateway1', 'gateway2', 'grafana', 'lb', 'mongo', 'prometheus', 'redis', 'worker'] },
  {
    files: ['docker-compose.yml', 'docker-compose.postgres.yml', 'docker-compose.monitoring.yml'],
    services: ['gateway1', 'gateway2', 'grafana', 'lb', 'mongo', 'postgres', 'prometheus', 'redis', 'worker'],
  },
  {
    files: ['docker-compose.cluster.yml'],
    services: ['gateway1', 'gateway2', 'lb', 'mongo', 'redis-1', 'redis-2', 'redis-3', 'redis-4', 'redis-5', 'redis-6', 'redis-cluster-init', 'worker'],
  },
];

const COMPOSE_SUITE = compose
  ? 'docker-compose config'
  : 'docker-compose config (skipped: neither docker-compose nor `docker compose` is installed; apt-get install docker-compose, as .ci/optional.sh does)';

describe.skipIf(!compose)(COMPOSE_SUITE, () => {
  for (const { files, services } of COMBINATIONS) {
    it(`accepts ${files.join(' + ')}`, () => {
      const check = runCompose(files, ['config', '-q']);
      expect(check.stderr).toBe('');
      expect(check.status).toBe(0);
      const listed = runCompose(files, ['config', '--services']);
      expect(listed.status).toBe(0);
      expect(listed.stdout.trim().split('\n').sort()).toEqual(services);
    });
  }

  it('refuses to run the stack without a JWT secret (no default secret ships)', () => {
    const r = runCompose(['docker-compose.yml'], ['config', '-q'], { JWT_SECRET: undefined });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('JWT_SECRET');
  });

  it('the PostgreSQL override moves every node to PostgreSQL', () => {
    const r = runCompose(['docker-compose.yml', 'docker-compose.postgres.yml'], ['config']);
    expect(r.status).toBe(0);
    expect(r.stdout.match(/STORE: postgres/g)).toHaveLength(3);
    expect(r.stdout).not.toMatch(/STORE: mongo/);
  });
});

describe('docker-compose.yml', () => {
  const text = read('docker-compose.yml');

  it('runs two gateways and one worker behind one load balancer port', () => {
    expect(text.match(/ROLE: gateway$/gm)).toHaveLength(2);
    expect(text.match(/ROLE: worker$/gm)).toHaveLength(1);
    const lb = text.slice(text.indexOf('\n  lb:'));
    expect(lb.match(/^ {6}- "\$\{PUBLIC_PORT:-8080\}:8080"$/gm)).toHaveLength(1);
    expect(text.match(/^ {4}ports:/gm)).toHaveLength(1);
  });

  it('Redis keeps jobs: AOF on, noeviction; Mongo is a replica set with majority writes', () => {
    expect(text).toMatch(/"--appendonly", "yes"/);
    expect(text).toMatch(/"--maxmemory-policy", "noeviction"/);
    expect(text).toContain('REDIS_REQUIRE_NOEVICTION: "true"');
    expect(text).toMatch(/--replSet", "rs0"/);
    expect(text).toContain('rs.initiate(');
    expect(text).toMatch(/MONGO_URL: mongodb:\/\/mongo:27017\/messenger\?replicaSet=rs0&w=majority/);
  });

  it('the load balancer checks /readyz, upgrades WebSockets and balances over both gateways', () => {
    const cfg = read('deploy/haproxy/haproxy.cfg');
    expect(cfg).toMatch(/option httpchk GET \/readyz/);
    expect(cfg).toMatch(/timeout tunnel/);
    expect(cfg).toMatch(/^\s*cookie rg_node insert/m);
    expect([...cfg.matchAll(/^\s*server (\S+) (\S+):3000/gm)].map((m) => m[2])).toEqual(['gateway1', 'gateway2']);
    expect(cfg).toMatch(/deny .*path_beg \/metrics/);
  });

  it('waits long enough for a draining node: stop_grace_period > SHUTDOWN_TIMEOUT_MS > SHUTDOWN_READY_DELAY_MS', () => {
    const grace = Number(/stop_grace_period: (\d+)s/.exec(text)?.[1]) * 1000;
    const timeout = Number(/SHUTDOWN_TIMEOUT_MS: "(\d+)"/.exec(text)?.[1]);
    const delay = Number(/SHUTDOWN_READY_DELAY_MS: "(\d+)"/.exec(text)?.[1]);
    expect(grace).toBeGreaterThan(timeout);
    expect(timeout).toBeGreaterThan(delay);
    // HAProxy drops a node after inter x fall; the node must keep serving at least that long.
    const cfg = read('deploy/haproxy/haproxy.cfg');
    const inter = Number(/inter (\d+)s/.exec(cfg)?.[1]) * 1000;
    const fall = Number(/fall (\d+)/.exec(cfg)?.[1]);
    expect(delay).toBeGreaterThan(inter * fall);
  });

  it('every file a compose file mounts exists', () => {
    for (const file of ['docker-compose.yml', 'docker-compose.postgres.yml', 'docker-compose.monitoring.yml', 'docker-compose.cluster.yml']) {
      for (const m of read(file).matchAll(/^\s*- (\.\/[^:]+):/gm)) expect(existsSync(join(ROOT, m[1]!)), `${file}: ${m[1]}`).toBe(true);
    }
    const dashboard = JSON.parse(read('deploy/grafana/dashboards/relaygate.json')) as { uid: string; panels: unknown[] };
    expect(dashboard.uid).toBe('relaygate');
    expect(dashboard.panels.length).toBeGreaterThan(10);
  });
});

describe('docker-compose.cluster.yml', () => {
  const text = read('docker-compose.cluster.yml');

  it('six cluster-enabled Redis nodes made into three masters with a replica each, before any node starts', () => {
    expect(text.match(/^ {2}redis-\d:\n {4}<<: \*redis-node$/gm)).toHaveLength(6);
    expect(text).toMatch(/--cluster-enabled yes/);
    expect(text).toMatch(/--maxmemory-policy noeviction/);
    expect(text).toMatch(/redis-cli --cluster create .* --cluster-replicas 1 --cluster-yes/);
    expect(text.match(/condition: service_completed_successfully/g)).toHaveLength(1); // in x-node: every node waits for it
  });

  it('every node runs REDIS_MODE=cluster with all six nodes as seeds; two gateways, one worker, one public port', () => {
    expect(text).toContain('REDIS_MODE: cluster');
    const seeds = /REDIS_URL: (\S+)/.exec(text)![1]!.split(',');
    expect(seeds).toEqual([1, 2, 3, 4, 5, 6].map((n) => `redis://redis-${n}:6379`));
    expect(text.match(/ROLE: gateway$/gm)).toHaveLength(2);
    expect(text.match(/ROLE: worker$/gm)).toHaveLength(1);
    expect(text.match(/^ {4}ports:/gm)).toHaveLength(1);
  });
});

describe('Dockerfile', () => {
  const text = read('Dockerfile').replace(/\\\n/g, ' ');
  const stages = text.split(/^FROM /m).slice(1);
  const stage = (name: string) => stages.find((s) => new RegExp(`^\\S+ AS ${name}\\b`, 'i').test(s)) ?? '';
  const start = (JSON.parse(read('package.json')) as { scripts: { start: string } }).scripts.start;

  it('builds dist/ with npm ci and npm run build', () => {
    const build = stage('build');
    expect(build).toMatch(/^RUN npm ci\b/m);
    expect(build).toMatch(/^RUN npm run build\b/m);
    expect(build).toMatch(/^COPY \. \.$/m);
  });

  it('runs with production dependencies only, as a non-root user, the same entry point as npm start', () => {
    const runtime = stages[stages.length - 1]!;
    expect(runtime).toMatch(/^RUN npm ci --omit=dev\b/m);
    expect(runtime).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
    const user = /^USER (\S+)/m.exec(runtime)?.[1];
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(runtime)?.[1] ?? 'null') as string[] | null;
    // Exec form, node itself as PID 1 (npm would not forward SIGTERM to main.ts).
    expect(cmd).not.toBeNull();
    expect(cmd![0]).toBe('node');
    expect(cmd).toContain('--enable-source-maps');
    const entry = /^node (\S+\.js)$/.exec(start)?.[1];
    expect(entry).toBe('dist/server/main.js');
    expect(cmd![cmd!.length - 1]).toBe(entry);
    expect(runtime).not.toMatch(/^ENTRYPOINT/m);
  });

  it('no install script phones home: package.json opts out of Scarf, as the installed @scarf/scarf reads it', () => {
    // swagger-ui-dist (a production dependency) and Spectral pull in @scarf/scarf, whose
    // postinstall reports the install to scarf.sh unless the root package.json (INIT_CWD, so
    // also in the image, which copies it before npm ci) or SCARF_ANALYTICS=false opts out.
    const pkg = JSON.parse(read('package.json')) as { scarfSettings?: { enabled?: boolean } };
    expect(pkg.scarfSettings?.enabled).toBe(false);
    const scarf = 'node_modules/@scarf/scarf/report.js';
    if (existsSync(join(ROOT, scarf))) expect(read(scarf)).toContain('rootPackage.scarfSettings.enabled === false');
    expect(stages.every((s) => !/^RUN npm ci\b/m.test(s) || /^COPY package\.json /m.test(s))).toBe(true);
  });

  it('.dockerignore keeps local state out and every build input in', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git', '.env']));
    // tsconfig files may carry // comments, which JSON.parse does not take.
    const tsBuild = JSON.parse(read('tsconfig.build.json').replace(/^\s*\/\/.*$/gm, '')) as { extends: string; include: string[] };
    const inputs = ['package.json', 'package-lock.json', 'tsconfig.build.json', tsBuild.extends.replace(/^\.\//, ''), ...tsBuild.include];
    const matches = (pattern: string, path: string) =>
      pattern.includes('*') ? new RegExp(`^${pattern.replace(/[.]/g, '\\.').replace(/\*/g, '[^/]*')}$`).test(path) : path === pattern || path.startsWith(`${pattern}/`);
    for (const input of inputs) expect(ignored.filter((p) => matches(p, input)), input).toEqual([]);
  });
});

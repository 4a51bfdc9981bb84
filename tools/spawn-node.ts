// The one way tests and benchmarks start a Node process of this repository (a gateway node, the
// benchmark's hand-rolled peer, a load generator) and learn the port it listens on. Imports
// node built-ins only, so both the test harness (server/test/support/) and bench/ may use it.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (child processes run there). */
export const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** What a node logs once it accepts connections: pino JSON with `"port":N` before `"msg":"listening"`. */
const LISTENING = /"port":(\d+)[^\n]*"msg":"listening"/;

export interface NodeProcessOptions {
  /** Script relative to the repository root: `.ts` runs through tsx, `.js` as it is. */
  entry: string;
  /** Arguments after the script. */
  args?: string[];
  env: Record<string, string>;
  /** Start from this process's environment (default); false passes PATH and HOME only. */
  inheritEnv?: boolean;
  /** Node flags before the script (e.g. `--cpu-prof`, which NODE_OPTIONS does not allow). */
  nodeArgs?: string[];
  /** Output kept for error messages and `output()`, bytes (default 64 KiB). */
  keepBytes?: number;
  /** CPUs the process may run on (`taskset -c` list, e.g. "0"), so a benchmark keeps it off the generator's core. */
  cpus?: string;
}

export interface NodeProcess {
  proc: ChildProcess;
  /** Resolves with the exit code (null after a signal) once the process ended. */
  exited: Promise<number | null>;
  /** The last `keepBytes` of stdout and stderr, interleaved. */
  output(): string;
  /** The last `keepBytes` of stderr alone. */
  stderr(): string;
  /** Resolves with the port of the listening line; rejects if the process exits or `timeoutMs` passes first. */
  listening(timeoutMs?: number): Promise<number>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
}

/** The gateway's entry point: the compiled one when asked for and built, else the source. */
export function gatewayEntry(built = false): string {
  return built && existsSync(join(ROOT, 'dist/server/main.js')) ? 'dist/server/main.js' : 'server/main.ts';
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills every child still running when this process exits, whatever the reason. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  });
}

export function startNodeProcess(o: NodeProcessOptions): NodeProcess {
  installExitHook();
  const script = join(ROOT, o.entry);
  const args = [...(o.nodeArgs ?? []), ...(o.entry.endsWith('.ts') ? ['--import', 'tsx'] : []), script, ...(o.args ?? [])];
  const base = o.inheritEnv === false ? { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' } : process.env;
  const [command, argv] = o.cpus ? ['taskset', ['-c', o.cpus, process.execPath, ...args]] : [process.execPath, args];
  const proc = spawn(command, argv, { cwd: ROOT, env: { ...base, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      live.delete(proc);
      resolve(code);
    }),
  );
  const keep = o.keepBytes ?? 65_536;
  const trim = (s: string) => (s.length > keep * 2 ? s.slice(-keep) : s);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (c: Buffer) => (out = trim(out + c.toString())));
  proc.stderr!.on('data', (c: Buffer) => {
    out = trim(out + c.toString());
    err = trim(err + c.toString());
  });
  const output = () => out.slice(-keep);

  return {
    proc,
    exited,
    output,
    stderr: () => err.slice(-keep),
    listening(timeoutMs = 60_000) {
      return new Promise<number>((resolve, reject) => {
        const check = () => {
          const m = LISTENING.exec(out);
          if (m) done(undefined, Number(m[1]));
        };
        const timer = setTimeout(() => done(new Error(`${o.entry} did not listen in ${timeoutMs} ms:\n${output().slice(-2_000)}`)), timeoutMs);
        const onExit = (code: number | null) => done(new Error(`${o.entry} exited with ${code} before listening:\n${output().slice(-2_000)}`));
        function done(error?: Error, port?: number) {
          clearTimeout(timer);
          proc.stdout!.off('data', check);
          proc.off('exit', onExit);
          if (error) reject(error);
          else resolve(port!);
        }
        proc.stdout!.on('data', check);
        proc.once('exit', onExit);
        check();
        if (proc.exitCode !== null || proc.signalCode !== null) onExit(proc.exitCode);
      });
    },
    async stop(graceMs = 15_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

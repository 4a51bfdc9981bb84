// CPU time of a process from /proc, for benchmarks and the storm scenario. Node built-ins only.
import { readdir, readFile } from 'node:fs/promises';

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) of a process from /proc, or 0 where there is no /proc. */
export async function processCpuSeconds(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime, stime
  } catch {
    return 0;
  }
}

/** CPU seconds used so far by every process whose name (`comm`) is one of `names`, by name. */
export async function cpuSecondsByName(names: readonly string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  const pids = await readdir('/proc').catch(() => [] as string[]);
  await Promise.all(
    pids
      .filter((p) => /^\d+$/.test(p))
      .map(async (pid) => {
        const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        if (!(comm in out)) return;
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out[comm]! += (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
      }),
  );
  return out;
}

/** The kernel's count of connections dropped because a listen queue was full (all sockets of the machine), or 0. */
export async function listenOverflows(): Promise<number> {
  const text = await readFile('/proc/net/netstat', 'utf8').catch(() => '');
  const lines = text.split('\n').filter((l) => l.startsWith('TcpExt:'));
  if (lines.length < 2) return 0;
  const names = lines[0]!.split(' ');
  const values = lines[1]!.split(' ');
  return Number(values[names.indexOf('ListenOverflows')] ?? 0);
}

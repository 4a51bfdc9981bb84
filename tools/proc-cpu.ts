// CPU time of a process from /proc, for benchmarks and the storm scenario. Node built-ins only.
import { readFile } from 'node:fs/promises';

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

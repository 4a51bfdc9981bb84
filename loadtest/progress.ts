// The progress line on stderr: rewritten in place on a terminal, one line every few seconds
// otherwise (CI logs), nothing when disabled.
export class Progress {
  private lastPrinted = 0;
  private lastLen = 0;
  private readonly tty: boolean;

  constructor(private readonly enabled: boolean) {
    this.tty = Boolean(process.stderr.isTTY);
  }

  update(line: string): void {
    if (!this.enabled) return;
    if (this.tty) {
      const pad = Math.max(0, this.lastLen - line.length);
      process.stderr.write(`\r${line}${' '.repeat(pad)}`);
      this.lastLen = line.length;
      return;
    }
    const now = Date.now();
    if (now - this.lastPrinted < 5_000) return;
    this.lastPrinted = now;
    process.stderr.write(`${line}\n`);
  }

  /** Ends the current line and prints `line` on its own. */
  log(line: string): void {
    if (!this.enabled) return;
    if (this.tty && this.lastLen) process.stderr.write('\n');
    this.lastLen = 0;
    this.lastPrinted = 0;
    process.stderr.write(`${line}\n`);
  }
}

/** A progress bar of `width` cells. */
export function bar(done: number, total: number, width = 20): string {
  const filled = total > 0 ? Math.round((done / total) * width) : width;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

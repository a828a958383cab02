/**
 * A progress bar on stderr for long CLI commands (gc, scrub, import, export). On a
 * terminal it redraws one line; otherwise (logs, CI) it prints a line at most every
 * few seconds so a pipe is not flooded.
 */
export class ProgressBar {
  private lastPrint = 0;
  private readonly tty = process.stderr.isTTY === true;

  constructor(private readonly label: string, private readonly unit = 'items') {}

  update(done: number, total: number, extra = ''): void {
    const now = Date.now();
    const finished = done >= total;
    if (!this.tty && !finished && now - this.lastPrint < 3000) return;
    this.lastPrint = now;
    const width = 30;
    const frac = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(frac * width);
    const bar = `[${'#'.repeat(filled)}${' '.repeat(width - filled)}]`;
    const line = `${this.label} ${bar} ${done}/${total} ${this.unit}${extra ? ` ${extra}` : ''}`;
    if (this.tty) process.stderr.write(`\r${line}${finished ? '\n' : ''}`);
    else process.stderr.write(`${line}\n`);
  }
}

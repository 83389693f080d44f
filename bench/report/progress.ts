import cliProgress from 'cli-progress';

/** A progress bar on a terminal; plain lines otherwise (CI logs). */
export class Progress {
  private readonly bar: cliProgress.SingleBar | undefined;
  private done = 0;
  private label = '';

  constructor(private readonly total: number) {
    if (process.stderr.isTTY) {
      this.bar = new cliProgress.SingleBar(
        {
          format: 'bench [{bar}] {value}/{total} {label}',
          stream: process.stderr,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, 0, { label: '' });
    }
  }

  /** A step begins. */
  start(label: string): void {
    this.label = label;
    if (this.bar !== undefined) this.bar.update(this.done, { label });
    else process.stderr.write(`bench ${this.done + 1}/${this.total}: ${label}\n`);
  }

  /** Detail inside the current step. */
  note(detail: string): void {
    const label = `${this.label} (${detail})`;
    if (this.bar !== undefined) this.bar.update(this.done, { label });
    else process.stderr.write(`  ${label}\n`);
  }

  /** The current step is done. */
  finish(): void {
    this.done++;
    this.bar?.update(this.done, { label: this.label });
  }

  stop(): void {
    this.bar?.stop();
  }
}

// Renders progress the way the docker CLI's jsonmessage stream does: on a terminal every keyed line
// (overall progress, 1/3, verify) is redrawn in place with cursor moves; elsewhere lines carrying a bar
// are dropped and the rest are printed as they come, which is why `overall progress` and `verify`
// lines repeat in a log while the bars appear only once, empty.
import type { Output } from './Io.js';

export interface Bar {
  readonly current: number;
  readonly total: number;
}

export interface ProgressSink {
  /** A line keyed by `id`, redrawn in place on a terminal; with a bar when `bar` is given. */
  progress(id: string, action: string, bar?: Bar): void;
  /** A one-off line under an id ("rollback: manually requested rollback"). */
  status(id: string, message: string): void;
  /** A plain line ("Operation continuing in background."). */
  message(text: string): void;
}

const BAR_WIDTH = 50;
/** docker draws the bar only on terminals wider than this; a non-terminal counts as 200 wide. */
const MIN_COLUMNS_FOR_BAR = 111;

export class ProgressDisplay implements ProgressSink {
  readonly #out: Output;
  readonly #tty: boolean;
  readonly #columns: number;
  /** id → line index among the tracked lines, as jsonmessage's `ids` map. */
  #ids = new Map<string, number>();

  constructor(out: Output, tty: boolean, columns = 200) {
    this.#out = out;
    this.#tty = tty;
    this.#columns = tty ? columns : 200;
  }

  progress(id: string, action: string, bar?: Bar): void {
    const barText = bar === undefined ? '' : renderBar(bar, this.#columns);
    if (!this.#tty) {
      if (barText !== '') return; // a bar cannot be redrawn in a log: leave it out
      this.#out.write(`${id === '' ? '' : `${id}: `}${action}\n`);
      return;
    }
    let diff = 0;
    if (id !== '') {
      let line = this.#ids.get(id);
      if (line === undefined) {
        line = this.#ids.size;
        this.#ids.set(id, line);
        this.#out.write('\n');
      }
      diff = this.#ids.size - line;
      if (diff > 0) this.#out.write(`\x1b[${diff}A`);
    } else {
      this.#ids.clear();
    }
    this.#out.write(`\x1b[2K\r${id === '' ? '' : `${id}: `}${action}${barText === '' ? '' : ` ${barText}`}\r`);
    if (diff > 0) this.#out.write(`\x1b[${diff}B`);
  }

  status(id: string, message: string): void {
    // Not a progress entry: the terminal history of keyed lines starts afresh after it.
    this.#ids.clear();
    this.#out.write(`${id === '' ? '' : `${id}: `}${message}\n`);
  }

  message(text: string): void {
    this.status('', text);
  }
}

/** Swallows everything: `--quiet` waits for convergence without showing it. */
export const silentSink: ProgressSink = {
  progress() {},
  status() {},
  message() {},
};

/** jsonmessage's JSONProgress.String() with HideCounts: "[=====>     ]", or "" on narrow terminals. */
export function renderBar(bar: Bar, columns = 200): string {
  if (bar.current <= 0 && bar.total <= 0) return '';
  if (columns < MIN_COLUMNS_FOR_BAR || bar.total <= 0) return '';
  const filled = Math.min(BAR_WIDTH, Math.trunc(Math.trunc((bar.current / bar.total) * 100) / 2));
  return `[${'='.repeat(filled)}>${' '.repeat(Math.max(0, BAR_WIDTH - filled))}]`;
}

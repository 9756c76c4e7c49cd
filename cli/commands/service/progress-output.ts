// How convergence progress reaches the terminal, as docker's progress stream shows it. Each line
// has an id ("overall progress", "1/3", "verify") and is drawn as `ID: ACTION [bar]`.
//   On a terminal the lines are redrawn in place: a new id adds a line at the bottom; an update
//   moves the cursor up to its line, clears it, rewrites it and moves back down. A line without an
//   id ("job complete") is printed below and starts a new block.
//   Otherwise only changes are printed, one line each, without bars and without blank lines.
// With --quiet nothing is printed.
import type { Output } from "../../context.js";

/** A progress bar's fill: `current` of `total` (docker's JSONProgress with HideCounts). */
export interface Bar {
  current: number;
  total: number;
}

const BAR_WIDTH = 50;
/** Docker draws bars only on terminals wider than this. */
const MIN_BAR_COLUMNS = 110;
const DEFAULT_COLUMNS = 200;

/** Docker's bar: "[=========>          ] " (the trailing blank is docker's), "" when there is nothing to show. */
export function barText(bar: Bar | undefined, columns: number = DEFAULT_COLUMNS): string {
  if (!bar || (bar.current <= 0 && bar.total <= 0) || columns <= MIN_BAR_COLUMNS) return "";
  const filled = Math.min(BAR_WIDTH, Math.trunc(Math.trunc((bar.current / bar.total) * 100) / 2));
  return `[${"=".repeat(filled)}>${" ".repeat(BAR_WIDTH - filled)}] `;
}

const up = (n: number) => `\x1b[${n}A`;
const down = (n: number) => `\x1b[${n}B`;
const CLEAR_LINE = "\x1b[2K";

/** Writes progress lines to stdout: redrawn on a terminal, changes only otherwise, nothing when quiet. */
export class ProgressWriter {
  /** Terminal: the line number of each id in the current block. Otherwise: the last text printed per id. */
  private readonly lines = new Map<string, number>();
  private readonly printed = new Map<string, string>();

  constructor(
    private readonly out: Output,
    private readonly quiet = false,
  ) {}

  /** Sets the line `id` to `action` and an optional bar. */
  update(id: string, action: string, bar?: Bar): void {
    if (this.quiet) return;
    if (!this.out.isTTY) {
      const text = action.trimEnd();
      if (text.trim() === "" || this.printed.get(id) === text) return;
      this.printed.set(id, text);
      this.out.write(`${id}: ${text}\n`);
      return;
    }
    let line = this.lines.get(id);
    if (line === undefined) {
      line = this.lines.size;
      this.lines.set(id, line);
      this.out.write("\n");
    }
    const diff = this.lines.size - line;
    this.out.write(`${up(diff)}${CLEAR_LINE}\r${id}: ${action} ${barText(bar, this.out.columns)}\r${down(diff)}`);
  }

  /** A line of its own below the progress lines; later updates start a new block. */
  message(text: string): void {
    if (this.quiet) return;
    this.lines.clear();
    this.printed.clear();
    this.out.write(`${text}\n`);
  }
}

// Docker's table look: Go's text/tabwriter with minimum width 10, padding 3 and spaces, as the
// docker CLI configures it. A line is split into cells at tabs; the text after a line's last tab is
// not a column and is never padded. Alignment works per column block (consecutive lines that
// have that column), as in Go, so a line without tabs ends the blocks above it.

/** Tab writer settings: Go's `minwidth` (counted with the padding) and `padding`. */
export interface TableOptions {
  minWidth: number;
  padding: number;
}

/** Docker's settings for tables (`tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`). */
export const DOCKER_TABLE: TableOptions = { minWidth: 10, padding: 3 };

/** Width in characters (code points), as tabwriter counts runes. */
function width(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Aligns tab-separated lines (no trailing newline in or out). */
export function alignColumns(lines: readonly string[], opts: TableOptions = DOCKER_TABLE): string[] {
  const cells = lines.map((l) => l.split("\t"));
  const widths: number[][] = cells.map(() => []);
  // Lays out column `col` of lines [from, to): each run of lines that has the column is one block.
  const block = (col: number, from: number, to: number): void => {
    let i = from;
    while (i < to) {
      if (col >= cells[i]!.length - 1) {
        i++;
        continue;
      }
      const start = i;
      let w = opts.minWidth;
      for (; i < to && col < cells[i]!.length - 1; i++) w = Math.max(w, width(cells[i]![col]!) + opts.padding);
      for (let j = start; j < i; j++) widths[j]![col] = w;
      block(col + 1, start, i);
    }
  };
  block(0, 0, cells.length);
  return cells.map((row, i) =>
    row.map((c, j) => (j < row.length - 1 ? c + " ".repeat(widths[i]![j]! - width(c)) : c)).join(""),
  );
}

/** A table of rows of cells (header first) in docker's look, one `\n`-terminated line per row. */
export function formatTable(rows: readonly (readonly string[])[], opts: TableOptions = DOCKER_TABLE): string {
  return alignColumns(
    rows.map((r) => r.join("\t")),
    opts,
  )
    .map((l) => `${l}\n`)
    .join("");
}

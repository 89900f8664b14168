// Tables in the look of the docker CLI, which writes them through Go's text/tabwriter with
// minwidth 10, padding 3 and spaces: every cell but the last of a row is padded to its column.

const MIN_WIDTH = 10;
const PADDING = 3;

/** Rows of cells (the first row is usually the header) to text, one line per row. */
export function renderTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    // The last cell is not tab-terminated in docker's templates, so it takes no part in alignment.
    row.slice(0, -1).forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? MIN_WIDTH, textWidth(cell) + PADDING);
    });
  }
  return rows.map((row) => row.map((cell, i) => (
    i === row.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? MIN_WIDTH) - textWidth(cell))
  )).join('') + '\n').join('');
}

/** tabwriter counts runes, not UTF-16 units: "…" is one. */
export function textWidth(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

import { describe, expect, it } from "vitest";
import { alignColumns, formatTable } from "./table.js";

describe("table writer (docker's tabwriter settings)", () => {
  it("pads every column but the last to its widest cell plus 3, at least 10", () => {
    expect(
      formatTable([
        ["ID", "NAME", "X"],
        ["abcdefghijkl", "a", "last column is not padded"],
      ]),
    ).toBe(`${"ID".padEnd(15)}${"NAME".padEnd(10)}X\n${"abcdefghijkl".padEnd(15)}${"a".padEnd(10)}last column is not padded\n`);
  });

  it("keeps empty cells as columns", () => {
    expect(alignColumns(["A\t\tC", "\tB\t"])).toEqual(["A                   C", "          B         "]);
  });

  it("aligns per column block: a line without tabs ends the block", () => {
    expect(alignColumns(["a\tb", "long-cell-here\tc", "no tabs", "x\ty"])).toEqual([
      "a                b",
      "long-cell-here   c",
      "no tabs",
      "x         y",
    ]);
  });

  it("counts characters, not UTF-16 units", () => {
    expect(alignColumns(["µµµµµµµµµµµ\tx", "a\ty"])).toEqual(["µµµµµµµµµµµ   x", `${"a".padEnd(14)}y`]);
  });
});

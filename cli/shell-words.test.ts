import { describe, expect, it } from "vitest";
import { splitShellWords } from "./shell-words.js";

describe("splitShellWords", () => {
  it.each([
    ["sh -c", ["sh", "-c"]],
    ["  spaced\t out  ", ["spaced", "out"]],
    [`sh -c 'echo "a b"'`, ["sh", "-c", 'echo "a b"']],
    [`say "it's \\"quoted\\" \\n"`, ["say", `it's "quoted" \\n`]],
    ["a\\ b c", ["a b", "c"]],
    ["''", [""]],
    ['x""y', ["xy"]],
    ["", []],
  ])("%j → %j", (line, words) => {
    expect(splitShellWords(line)).toEqual(words);
  });

  it.each([
    ["echo 'open", "the single quote is not closed"],
    ['echo "open', "the double quote is not closed"],
    ["trailing\\", "a backslash at the end escapes nothing"],
  ])("%j is refused: %s", (line, message) => {
    expect(() => splitShellWords(line)).toThrow(message);
  });
});

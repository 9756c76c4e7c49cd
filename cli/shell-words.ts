// Splits a command line into words the way a POSIX shell would (without expansions), as docker
// does for `--entrypoint "sh -c 'echo hi'"` and `--health-cmd`: blanks separate words, quotes
// group them, a backslash escapes the next character.

/** A command line that cannot be split (an unclosed quote or a trailing backslash). */
export class ShellWordsError extends Error {
  override name = "ShellWordsError";
}

/** `sh -c 'echo "a b"'` → ["sh", "-c", `echo "a b"`]. Throws ShellWordsError. */
export function splitShellWords(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
      continue;
    }
    if (c === "\\") {
      if (i + 1 >= line.length) throw new ShellWordsError("a backslash at the end escapes nothing");
      const next = line[++i]!;
      // Inside double quotes a backslash only escapes what the shell would otherwise interpret.
      word += quote === '"' && !'$`"\\\n'.includes(next) ? `\\${next}` : next;
      inWord = true;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = undefined;
      else word += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new ShellWordsError(`the ${quote === "'" ? "single" : "double"} quote is not closed`);
  if (inWord) words.push(word);
  return words;
}

// Parsers for flag values (commander argParsers). A bad value throws FlagValueError, which names
// the flag, the value and what is allowed, e.g.
//   invalid argument "sometimes" for "--availability" flag: must be one of active, pause, drain
import { FlagValueError } from "./errors.js";
import { DurationSyntaxError, parseDuration } from "./output/duration.js";
import { parseMemoryBytes, parseNanoCpus } from "./output/units.js";
import { ShellWordsError, splitShellWords } from "./shell-words.js";

/** One of a fixed set of words, mapped to its value (e.g. a proto enum). */
export function choiceFlag<T>(flag: string, choices: Readonly<Record<string, T>>): (value: string) => T {
  return (value) => {
    if (!Object.hasOwn(choices, value)) throw new FlagValueError(flag, value, `must be one of ${Object.keys(choices).join(", ")}`);
    return choices[value]!;
  };
}

/** A Go duration ("90s", "1h30m"), as whole milliseconds. */
export function durationFlag(flag: string, opts: { min?: number } = {}): (value: string) => number {
  return (value) => {
    let ms: number;
    try {
      ms = parseDuration(value);
    } catch (e) {
      if (e instanceof DurationSyntaxError) throw new FlagValueError(flag, value, e.message);
      throw e;
    }
    if (opts.min !== undefined && ms < opts.min) throw new FlagValueError(flag, value, `must not be negative`);
    return ms;
  };
}

/** A base-10 integer (64-bit values beyond 2^53 do not occur). */
export function intFlag(flag: string): (value: string) => number {
  return (value) => {
    if (!/^[-+]?\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new FlagValueError(flag, value, "must be an integer");
    return Number(value);
  };
}

/** A non-negative base-10 integer (docker's uint flags). */
export function uintFlag(flag: string): (value: string) => number {
  return (value) => {
    if (!/^\+?\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new FlagValueError(flag, value, "must be a non-negative integer");
    return Number(value);
  };
}

/** A memory size ("512M", "1G", "1.5GiB", bytes without a unit), in bytes. */
export function memoryFlag(flag: string): (value: string) => number {
  return (value) => {
    const bytes = parseMemoryBytes(value);
    if (bytes === undefined) throw new FlagValueError(flag, value, "must be a size such as 512M, 1G or 1.5GiB (units b, k, m, g, t, p; binary)");
    return bytes;
  };
}

/** A number of CPUs ("0.5", "2"), in nano-CPUs. */
export function cpusFlag(flag: string): (value: string) => number {
  return (value) => {
    const nano = parseNanoCpus(value);
    if (nano === undefined) throw new FlagValueError(flag, value, "must be a non-negative decimal number of CPUs such as 0.5 or 2 (at most 9 decimals)");
    return nano;
  };
}

/** A fraction from 0 to 1 ("0.2"), as docker's failure ratios. */
export function ratioFlag(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\+?(\d+\.?\d*|\.\d+)$/.test(value) || n > 1) throw new FlagValueError(flag, value, "must be a number from 0 to 1, such as 0.2");
    return n;
  };
}

/** A command line split into words as a shell would ("sh -c 'echo hi'" → sh, -c, echo hi). */
export function wordsFlag(flag: string): (value: string) => string[] {
  return (value) => {
    try {
      return splitShellWords(value);
    } catch (e) {
      if (e instanceof ShellWordsError) throw new FlagValueError(flag, value, e.message);
      throw e;
    }
  };
}

const TRUE = new Set(["1", "t", "T", "true", "TRUE", "True"]);
const FALSE = new Set(["0", "f", "F", "false", "FALSE", "False"]);

/** A boolean as Go's strconv.ParseBool reads it ("true", "false", "1", "0", …). */
export function boolFlag(flag: string): (value: string) => boolean {
  return (value) => {
    if (TRUE.has(value)) return true;
    if (FALSE.has(value)) return false;
    throw new FlagValueError(flag, value, "must be true or false");
  };
}

/** A repeatable flag whose values are parsed one by one (a value may stand for several items) into one list. */
export function collectFlag<T>(parse: (value: string) => T | T[]): (value: string, previous: T[] | undefined) => T[] {
  return (value, previous) => [...(previous ?? []), ...([] as T[]).concat(parse(value))];
}

/** A repeatable flag: every value, in order, each checked by `check` (which may throw). */
export function listFlag(check: (value: string) => void = () => undefined): (value: string, previous: string[] | undefined) => string[] {
  return (value, previous) => {
    check(value);
    return [...(previous ?? []), value];
  };
}

/** A repeatable `key=value` (or bare `key`) flag: the key must not be empty. */
export function keyValueListFlag(flag: string): (value: string, previous: string[] | undefined) => string[] {
  return listFlag((value) => {
    if (splitKeyValue(value)[0] === "") throw new FlagValueError(flag, value, "the key must not be empty (want key=value)");
  });
}

/** "k=v" → ["k", "v"]; "k" → ["k", ""]. */
export function splitKeyValue(text: string): [string, string] {
  const i = text.indexOf("=");
  return i === -1 ? [text, ""] : [text.slice(0, i), text.slice(i + 1)];
}

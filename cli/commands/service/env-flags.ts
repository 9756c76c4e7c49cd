// The container environment from `-e/--env` and `--env-file`, merged as docker merges them:
// files first (in order), then -e values; a later NAME replaces an earlier one. `NAME` without a
// value takes NAME's value from the CLI's own environment (an -e NAME that is not set there is
// sent as is; a file line that is not set there is left out). Env files: one NAME=value per line,
// `#` comments and blank lines ignored, leading blanks trimmed, values kept verbatim.
import { readFileSync } from "node:fs";
import { FlagValueError } from "../../errors.js";

type Env = Readonly<Record<string, string | undefined>>;

/** Checks one `-e` (`--env-add`) value: NAME=value or NAME, with a name. */
export function checkEnvFlag(value: string, flag = "--env"): string {
  const name = value.split("=", 1)[0]!;
  if (name === "") throw new FlagValueError(flag, value, "the variable name must not be empty (want NAME=value or NAME)");
  return value;
}

/** The variable name of an env entry ("A=1" → "A"). */
export function nameOf(entry: string): string {
  return entry.split("=", 1)[0]!;
}

/** The entries of one env file; throws FlagValueError naming the file and the line at fault. */
export function readEnvFile(file: string, env: Env): string[] {
  const fail = (reason: string) => new FlagValueError("--env-file", file, reason);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw fail(`cannot read it: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
  const entries: string[] = [];
  text
    .replace(/^\uFEFF/, "")
    .split(/\r?\n/)
    .forEach((raw, i) => {
      const line = raw.replace(/^\s+/, "");
      if (line === "" || line.startsWith("#")) return;
      const eq = line.indexOf("=");
      const name = eq === -1 ? line.trimEnd() : line.slice(0, eq);
      if (name === "") throw fail(`line ${i + 1}: no variable name in "${line}"`);
      if (/\s/.test(name)) throw fail(`line ${i + 1}: variable name "${name}" contains whitespace`);
      if (eq !== -1) entries.push(line);
      else if (env[name] !== undefined) entries.push(`${name}=${env[name]}`);
    });
  return entries;
}

/** An -e value with `NAME` alone given NAME's value from the CLI's environment when it is set there. */
export function withValueFromEnv(value: string, env: Env): string {
  return value.includes("=") || env[value] === undefined ? value : `${value}=${env[value]}`;
}

/** The container's env: the files' entries, then the -e values; the last of each name wins, in its place. */
export function mergeEnv(files: readonly string[], values: readonly string[], env: Env): string[] {
  const fromFlags = values.map((v) => withValueFromEnv(v, env));
  const merged: string[] = [];
  for (const entry of [...files.flatMap((f) => readEnvFile(f, env)), ...fromFlags]) {
    const name = nameOf(entry);
    const at = merged.findIndex((e) => nameOf(e) === name);
    if (at !== -1) merged.splice(at, 1);
    merged.push(entry);
  }
  return merged;
}

// The subset of Go's text/template that docker's `--format` users write:
//   text, {{.Field.Sub}}, {{.}}, {{json .}}, {{if .X}}…{{else if .Y}}…{{else}}…{{end}},
//   {{range .List}}…{{else}}…{{end}}, {{with .X}}…{{end}}, pipes ({{.Name | upper}}),
//   parentheses, string/number/bool literals, trim markers ({{- and -}}) and {{/* comments */}}.
// Functions: json, join, split, lower, upper, title, len, eq, ne, not. No variables ($x).
//
// Data is plain JS: objects are Go structs (an unknown field is an error; the first letter's case
// is forgiven), Maps are Go maps (a missing key is "<no value>"), arrays are slices, null is nil.
import { TemplateError } from "../errors.js";

type Token =
  | { t: "field"; path: string[] }
  | { t: "ident"; name: string }
  | { t: "literal"; value: string | number }
  | { t: "|" | "(" | ")" };

type Operand =
  | { kind: "field"; path: string[] }
  | { kind: "literal"; value: unknown }
  | { kind: "call"; name: string }
  | { kind: "group"; pipe: Pipe };
type Pipe = Operand[][];

type TemplateNode =
  | { kind: "text"; text: string }
  | { kind: "action"; src: string; pipe: Pipe }
  | { kind: "if" | "range" | "with"; src: string; pipe: Pipe; body: TemplateNode[]; otherwise: TemplateNode[] };

/** A lexed piece of the template: literal text, or the tokens of one {{action}}. */
type Item = { kind: "text"; text: string } | { kind: "action"; src: string; tokens: Token[] };

type Fn = (...args: unknown[]) => unknown;

const FUNCS: Record<string, { arity: number | [number, number]; fn: Fn }> = {
  json: { arity: 1, fn: (v) => toJson(v) },
  join: { arity: 2, fn: (list, sep) => asList(list, "join").map((e) => printValue(e)).join(String(sep)) },
  split: { arity: 2, fn: (s, sep) => String(s).split(String(sep)) },
  lower: { arity: 1, fn: (s) => printValue(s).toLowerCase() },
  upper: { arity: 1, fn: (s) => printValue(s).toUpperCase() },
  title: { arity: 1, fn: (s) => printValue(s).replace(/(^|[^\p{L}\p{N}])(\p{L})/gu, (_m, a: string, b: string) => a + b.toUpperCase()) },
  len: { arity: 1, fn: (v) => length(v) },
  eq: { arity: [2, Infinity], fn: (a, ...rest) => rest.some((b) => a === b) },
  ne: { arity: 2, fn: (a, b) => a !== b },
  not: { arity: 1, fn: (v) => !truthy(v) },
};

/** Thrown while executing; wrapped with the failing action's text. */
class ExecError extends Error {}

/** A parsed `--format` template. */
export interface Template {
  /** Renders the template with `data` as dot; throws TemplateError. */
  execute(data: unknown): string;
}

/** Parses a Go-template subset (see the file comment); throws TemplateError. */
export function parseTemplate(text: string): Template {
  const items = lex(text);
  let pos = 0;

  const parseList = (): { nodes: TemplateNode[]; stop: "end" | "else" | "eof"; elseTokens: Token[] } => {
    const nodes: TemplateNode[] = [];
    while (pos < items.length) {
      const item = items[pos++]!;
      if (item.kind === "text") {
        if (item.text) nodes.push(item);
        continue;
      }
      const [first, ...rest] = item.tokens;
      if (first === undefined) continue; // a comment
      const keyword = first.t === "ident" ? first.name : "";
      if (keyword === "end") {
        if (rest.length > 0) throw parseError(`unexpected ${describe(rest[0]!)} in end`);
        return { nodes, stop: "end", elseTokens: [] };
      }
      if (keyword === "else") return { nodes, stop: "else", elseTokens: rest };
      if (keyword === "if" || keyword === "range" || keyword === "with") nodes.push(parseControl(keyword, item.src, rest));
      else nodes.push({ kind: "action", src: item.src, pipe: parsePipe(item.tokens) });
    }
    return { nodes, stop: "eof", elseTokens: [] };
  };

  const parseControl = (kind: "if" | "range" | "with", src: string, tokens: Token[]): TemplateNode => {
    if (tokens.length === 0) throw parseError(`missing value for ${kind}`);
    const pipe = parsePipe(tokens);
    const body = parseList();
    if (body.stop === "eof") throw parseError(`unexpected EOF: {{${kind}}} without {{end}}`);
    let otherwise: TemplateNode[] = [];
    if (body.stop === "else") {
      const [next, ...rest] = body.elseTokens;
      if (next !== undefined) {
        // {{else if …}} / {{else with …}} nests a control that shares the outer {{end}}.
        if (next.t !== "ident" || (next.name !== "if" && next.name !== "with")) throw parseError(`unexpected ${describe(next)} after else`);
        otherwise = [parseControl(next.name, src, rest)];
      } else {
        const tail = parseList();
        if (tail.stop !== "end") throw parseError(tail.stop === "else" ? "expected end; found else" : `unexpected EOF: {{${kind}}} without {{end}}`);
        otherwise = tail.nodes;
      }
    }
    return { kind, src, pipe, body: body.nodes, otherwise };
  };

  const root = parseList();
  if (root.stop !== "eof") throw parseError(`unexpected {{${root.stop}}}`);
  return {
    execute: (data) => {
      const out: string[] = [];
      exec(root.nodes, data, out);
      return out.join("");
    },
  };
}

function parseError(msg: string): TemplateError {
  return new TemplateError(`template parsing error: ${msg}`);
}

function describe(tok: Token): string {
  switch (tok.t) {
    case "field":
      return `<.${tok.path.join(".")}>`;
    case "ident":
      return `"${tok.name}"`;
    case "literal":
      return JSON.stringify(tok.value);
    default:
      return `"${tok.t}"`;
  }
}

// ---- lexing ----

const FIELD = /^(?:\.[A-Za-z_][A-Za-z0-9_]*)+/;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*/;
const NUMBER = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/;

function lex(text: string): Item[] {
  const items: Item[] = [];
  let i = 0;
  let trimNext = false;
  while (i < text.length) {
    const open = text.indexOf("{{", i);
    let literal = text.slice(i, open === -1 ? text.length : open);
    if (trimNext) literal = literal.replace(/^\s+/, "");
    if (open === -1) {
      items.push({ kind: "text", text: literal });
      break;
    }
    let k = open + 2;
    if (text.startsWith("- ", k) || text.startsWith("-\t", k) || text.startsWith("-\n", k)) {
      literal = literal.replace(/\s+$/, "");
      k += 2;
    }
    items.push({ kind: "text", text: literal });
    const action = lexAction(text, k);
    items.push({ kind: "action", src: text.slice(open, action.next), tokens: action.tokens });
    trimNext = action.trimRight;
    i = action.next;
  }
  return items;
}

/** Tokens of the action starting at `k` (just after "{{"), up to and past its "}}". */
function lexAction(text: string, start: number): { tokens: Token[]; next: number; trimRight: boolean } {
  const tokens: Token[] = [];
  let k = start;
  const close = (at: number, trimRight: boolean) => ({ tokens, next: at, trimRight });
  if (text.startsWith("/*", k)) {
    const end = text.indexOf("*/", k + 2);
    if (end === -1) throw parseError("unclosed comment");
    const after = text.slice(end + 2);
    const m = /^(\s+-)?}}/.exec(after);
    if (!m) throw parseError("comment ends before closing delimiter");
    return close(end + 2 + m[0].length, m[1] !== undefined);
  }
  for (;;) {
    while (k < text.length && /\s/.test(text[k]!)) {
      if (text.startsWith("-}}", k + 1)) return close(k + 4, true);
      k++;
    }
    if (k >= text.length) throw parseError("unclosed action");
    const rest = text.slice(k);
    if (rest.startsWith("}}")) return close(k + 2, false);
    const c = rest[0]!;
    let m: RegExpExecArray | null;
    if (c === '"') {
      const s = /^"(?:[^"\\\n]|\\.)*"/.exec(rest);
      if (!s) throw parseError("unterminated quoted string");
      tokens.push({ t: "literal", value: parseQuoted(s[0]) });
      k += s[0].length;
    } else if (c === "`") {
      const end = rest.indexOf("`", 1);
      if (end === -1) throw parseError("unterminated raw quoted string");
      tokens.push({ t: "literal", value: rest.slice(1, end) });
      k += end + 1;
    } else if (c === "|" || c === "(" || c === ")") {
      tokens.push({ t: c });
      k++;
    } else if ((m = FIELD.exec(rest))) {
      tokens.push({ t: "field", path: m[0].slice(1).split(".") });
      k += m[0].length;
    } else if (c === "." && !/^\.\d/.test(rest)) {
      tokens.push({ t: "field", path: [] });
      k++;
    } else if ((m = NUMBER.exec(rest))) {
      tokens.push({ t: "literal", value: Number(m[0]) });
      k += m[0].length;
    } else if ((m = IDENT.exec(rest))) {
      tokens.push({ t: "ident", name: m[0] });
      k += m[0].length;
    } else if (c === "$") {
      throw parseError("variables ($x) are not supported");
    } else {
      throw parseError(`unexpected ${JSON.stringify(c)} in action`);
    }
  }
}

function parseQuoted(quoted: string): string {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    throw parseError(`invalid quoted string ${quoted}`);
  }
}

// ---- parsing actions ----

/** A pipeline: commands separated by "|"; parentheses nest pipelines as operands. */
function parsePipe(tokens: Token[]): Pipe {
  let i = 0;
  const pipeline = (inGroup: boolean): Pipe => {
    const commands: Operand[][] = [[]];
    while (i < tokens.length) {
      const tok = tokens[i++]!;
      const cmd = commands[commands.length - 1]!;
      switch (tok.t) {
        case "|":
          if (cmd.length === 0) throw parseError("missing command before |");
          commands.push([]);
          break;
        case "(":
          cmd.push({ kind: "group", pipe: pipeline(true) });
          break;
        case ")":
          if (!inGroup) throw parseError("unexpected right paren");
          if (cmd.length === 0) throw parseError("missing value in parentheses");
          return commands;
        case "field":
          cmd.push({ kind: "field", path: tok.path });
          break;
        case "literal":
          cmd.push({ kind: "literal", value: tok.value });
          break;
        case "ident":
          if (tok.name === "true" || tok.name === "false") cmd.push({ kind: "literal", value: tok.name === "true" });
          else if (tok.name === "nil") cmd.push({ kind: "literal", value: null });
          else if (tok.name in FUNCS) cmd.push({ kind: "call", name: tok.name });
          else throw parseError(`function "${tok.name}" not defined`);
          break;
      }
    }
    if (inGroup) throw parseError("unclosed left paren");
    if (commands[commands.length - 1]!.length === 0) throw parseError("missing command after |");
    return commands;
  };
  return pipeline(false);
}

// ---- execution ----

function exec(nodes: readonly TemplateNode[], dot: unknown, out: string[]): void {
  for (const node of nodes) {
    if (node.kind === "text") {
      out.push(node.text);
      continue;
    }
    let value: unknown;
    try {
      value = evalPipe(node.pipe, dot);
    } catch (e) {
      if (e instanceof ExecError) throw new TemplateError(`template: executing ${node.src}: ${e.message}`);
      throw e;
    }
    switch (node.kind) {
      case "action":
        out.push(printValue(value, true));
        break;
      case "if":
        exec(truthy(value) ? node.body : node.otherwise, dot, out);
        break;
      case "with":
        if (truthy(value)) exec(node.body, value, out);
        else exec(node.otherwise, dot, out);
        break;
      case "range": {
        const elems = rangeOver(value, node.src);
        if (elems.length === 0) exec(node.otherwise, dot, out);
        for (const e of elems) exec(node.body, e, out);
        break;
      }
    }
  }
}

const NO_PIPED = Symbol("no piped value");

function evalPipe(pipe: Pipe, dot: unknown): unknown {
  let piped: unknown = NO_PIPED;
  for (const cmd of pipe) piped = evalCommand(cmd, dot, piped);
  return piped;
}

function evalCommand(cmd: Operand[], dot: unknown, piped: unknown): unknown {
  const [head, ...args] = cmd;
  if (head?.kind === "call") {
    const values = args.map((a) => evalOperand(a, dot));
    if (piped !== NO_PIPED) values.push(piped);
    return call(head.name, values);
  }
  if (args.length > 0 || piped !== NO_PIPED) throw new ExecError("can't give argument to non-function");
  return evalOperand(head!, dot);
}

function evalOperand(op: Operand, dot: unknown): unknown {
  switch (op.kind) {
    case "field":
      return op.path.reduce(field, dot);
    case "literal":
      return op.value;
    case "group":
      return evalPipe(op.pipe, dot);
    case "call":
      return call(op.name, []);
  }
}

function call(name: string, args: unknown[]): unknown {
  const f = FUNCS[name]!;
  const [min, max] = typeof f.arity === "number" ? [f.arity, f.arity] : f.arity;
  if (args.length < min || args.length > max) throw new ExecError(`wrong number of args for ${name}: want ${min} got ${args.length}`);
  return f.fn(...args);
}

/** Go's field access: struct field (case of the first letter forgiven), map key, nil stays nil. */
function field(value: unknown, name: string): unknown {
  if (value === undefined || value === null) return undefined;
  if (value instanceof Map) return value.get(name);
  if (typeof value === "object" && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    if (Object.hasOwn(obj, name)) return obj[name];
    const key = Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase());
    if (key !== undefined) return obj[key];
  }
  throw new ExecError(`can't evaluate field ${name} in type ${typeName(value)}`);
}

function typeName(v: unknown): string {
  if (Array.isArray(v)) return "list";
  if (v instanceof Map) return "map";
  return typeof v;
}

function rangeOver(value: unknown, src: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value;
  if (value instanceof Map) return [...value.keys()].sort().map((k) => value.get(k));
  throw new TemplateError(`template: executing ${src}: range can't iterate over ${printValue(value)}`);
}

function asList(v: unknown, fn: string): unknown[] {
  if (Array.isArray(v)) return v;
  if (v === undefined || v === null) return [];
  throw new ExecError(`${fn}: expected a list, got ${typeName(v)}`);
}

function length(v: unknown): number {
  if (typeof v === "string" || Array.isArray(v)) return v.length;
  if (v instanceof Map) return v.size;
  if (v === undefined || v === null) return 0;
  throw new ExecError(`len of type ${typeName(v)}`);
}

/** Go's truth: false, 0, nil and empty strings, lists and maps are false; structs are true. */
export function truthy(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "string" || Array.isArray(v)) return v.length > 0;
  if (v instanceof Map) return v.size > 0;
  return true;
}

/** Go's %v of a value; a missing value at the top of an action prints "<no value>". */
export function printValue(v: unknown, top = false): string {
  if (v === undefined) return top ? "<no value>" : "<nil>";
  if (v === null) return "<nil>";
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return `[${v.map((e) => printValue(e)).join(" ")}]`;
  if (v instanceof Map) {
    const keys = [...v.keys()].sort();
    return `map[${keys.map((k) => `${String(k)}:${printValue(v.get(k))}`).join(" ")}]`;
  }
  if (typeof v === "object") return `{${Object.values(v).map((e) => printValue(e)).join(" ")}}`;
  return String(v);
}

/** JSON as Go's encoding/json writes it for our data: Maps become objects with sorted keys. */
export function toJson(v: unknown, indent?: number): string {
  return (
    JSON.stringify(
      v ?? null,
      (_k, val: unknown) => (val instanceof Map ? Object.fromEntries([...val.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : val),
      indent,
    ) ?? "null"
  );
}

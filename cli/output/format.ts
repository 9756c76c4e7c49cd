// `--format` for list and inspect commands, as docker reads it:
//   ""            the command's default (a table for lists, indented JSON for inspect)
//   "json"        one JSON object per line (lists) / the JSON array (inspect)
//   "table TMPL"  TMPL per row under a header row, aligned like docker's tables
//   "TMPL"        TMPL per row (or per inspected object), one line each
// In templates the two-character sequences `\t` and `\n` stand for a tab and a newline.
import { DOCKER_TABLE, alignColumns } from "./table.js";
import { parseTemplate, toJson } from "./template.js";

const TABLE_PREFIX = "table";

/** How a list command renders when no --format is given, and its column headers. */
export interface ListFormat {
  /** The default format, e.g. "table {{.ID}}\t{{.Name}}". */
  defaultFormat: string;
  /** Header text per row field ("ManagerStatus" → "MANAGER STATUS"); fields not listed get "". */
  headers: Readonly<Record<string, string>>;
}

/** The format with docker's escapes (`\t`, `\n`) turned into the characters. */
export function unescapeFormat(format: string): string {
  return format.replace(/\\t/g, "\t").replace(/\\n/g, "\n");
}

/** Whether `format` renders a table (the default of a table list, or "table …"): docker indents task history only there. */
export function isTableFormat(format: string, list: ListFormat): boolean {
  return (format.trim() === "" ? list.defaultFormat : format).startsWith(TABLE_PREFIX);
}

/** Renders rows (template data, e.g. `{ ID, Hostname, … }`) in the format the user asked for. */
export function renderList(format: string, rows: readonly object[], list: ListFormat): string {
  const chosen = format.trim() === "" ? list.defaultFormat : format;
  if (chosen.trim() === "json") return rows.map((r) => `${toJson(r)}\n`).join("");
  if (chosen.startsWith(TABLE_PREFIX)) {
    const body = chosen.slice(TABLE_PREFIX.length).trim();
    const tmpl = parseTemplate(unescapeFormat(body === "" ? list.defaultFormat.slice(TABLE_PREFIX.length).trim() : body));
    const fields = new Set([...Object.keys(list.headers), ...rows.flatMap((r) => Object.keys(r))]);
    const headerData = Object.fromEntries([...fields].map((f) => [f, list.headers[f] ?? ""]));
    const lines = [tmpl.execute(headerData), ...rows.map((r) => tmpl.execute(r))].flatMap((l) => l.split("\n"));
    return alignColumns(lines, DOCKER_TABLE)
      .map((l) => `${l}\n`)
      .join("");
  }
  const tmpl = parseTemplate(unescapeFormat(chosen));
  return rows.map((r) => `${tmpl.execute(r)}\n`).join("");
}

/**
 * Renders inspected objects: the JSON documents (4-space indented array, docker's look) by default
 * or with "json"; with a template, the template once per object over its template view.
 */
export function renderInspect(format: string, json: readonly unknown[], views: readonly unknown[]): string {
  if (format.trim() === "" || format.trim() === "json") return `${json.length === 0 ? "[]" : toJson(json, 4)}\n`;
  const tmpl = parseTemplate(unescapeFormat(format));
  return views.map((v) => `${tmpl.execute(v)}\n`).join("");
}

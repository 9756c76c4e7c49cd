import { describe, expect, it } from "vitest";
import { renderInspect, renderList, type ListFormat } from "./format.js";

const LIST: ListFormat = { defaultFormat: "table {{.ID}}\t{{.Name}}", headers: { ID: "ID", Name: "NAME" } };
const rows = [
  { ID: "1", Name: "one" },
  { ID: "22", Name: "two" },
];

describe("--format", () => {
  it("defaults to the table", () => {
    expect(renderList("", rows, LIST)).toBe("ID        NAME\n1         one\n22        two\n");
  });

  it("table TEMPLATE uses the headers and \\t escapes; bare 'table' is the default table", () => {
    expect(renderList("table {{.Name}}\\t{{.ID}}", rows, LIST)).toBe("NAME      ID\none       1\ntwo       22\n");
    expect(renderList("table", rows, LIST)).toBe(renderList("", rows, LIST));
  });

  it("a header of an empty list is still printed", () => {
    expect(renderList("", [], LIST)).toBe("ID        NAME\n");
  });

  it("json prints one object per line; a template one line per row", () => {
    expect(renderList("json", rows, LIST)).toBe('{"ID":"1","Name":"one"}\n{"ID":"22","Name":"two"}\n');
    expect(renderList("{{.ID}}:{{.Name}}", rows, LIST)).toBe("1:one\n22:two\n");
  });

  it("inspect prints the JSON documents indented by 4, or the template per view", () => {
    expect(renderInspect("", [{ id: "x" }], [])).toBe('[\n    {\n        "id": "x"\n    }\n]\n');
    expect(renderInspect("json", [], [])).toBe("[]\n");
    expect(renderInspect("{{.ID}}", [{}, {}], [{ ID: "a" }, { ID: "b" }])).toBe("a\nb\n");
  });
});

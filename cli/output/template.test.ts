import { describe, expect, it } from "vitest";
import { parseTemplate } from "./template.js";

const node = {
  ID: "abc",
  Self: true,
  Count: 0,
  Spec: { Role: "manager", Labels: new Map([["zone", "east"], ["disk", "ssd"]]), Name: "" },
  ManagerStatus: null,
  Tags: ["a", "b"],
  Empty: [],
};

describe("template evaluator", () => {
  it.each([
    ["plain text", "plain text"],
    ["{{.ID}}", "abc"],
    ["{{ .ID }}", "abc"],
    ["{{.id}}", "abc"], // the first letter's case is forgiven
    ["{{.Spec.Role}}", "manager"],
    ["{{.Spec.Labels.zone}}", "east"],
    ["{{.Spec.Labels.rack}}", "<no value>"],
    ["{{.ManagerStatus}}", "<nil>"],
    ["{{.ManagerStatus.Leader}}", "<no value>"],
    ["{{.Self}} {{.Count}}", "true 0"],
    ["{{.Tags}}", "[a b]"],
    ["{{.Spec.Labels}}", "map[disk:ssd zone:east]"],
    ["{{json .Spec}}", '{"Role":"manager","Labels":{"disk":"ssd","zone":"east"},"Name":""}'],
    ["{{json .ID}}", '"abc"'],
    ["{{json .ManagerStatus}}", "null"],
    ["{{if .Self}}*{{else}} {{end}}", "*"],
    ["{{if .Count}}yes{{else}}no{{end}}", "no"],
    ["{{if .Spec.Name}}named{{else if .Self}}self{{else}}none{{end}}", "self"],
    ["{{range .Tags}}<{{.}}>{{end}}", "<a><b>"],
    ["{{range .Empty}}x{{else}}empty{{end}}", "empty"],
    ["{{range .Spec.Labels}}{{.}},{{end}}", "ssd,east,"],
    ["{{with .Spec}}{{.Role}}{{end}}", "manager"],
    ["{{with .ManagerStatus}}m{{else}}worker{{end}}", "worker"],
    ["{{.ID | upper}}", "ABC"],
    ["{{upper .ID}}-{{lower \"X\"}}-{{title \"hello world\"}}", "ABC-x-Hello World"],
    ["{{join .Tags \", \"}}", "a, b"],
    ["{{len .Tags}} {{len .Spec.Labels}}", "2 2"],
    ["{{if eq .Spec.Role \"manager\"}}M{{end}}", "M"],
    ["{{if not .Self}}x{{else}}y{{end}}", "y"],
    ["{{(upper .ID) | lower}}", "abc"],
    ["{{`raw\\n`}}", "raw\\n"],
    ["a {{- .ID -}} b", "aabcb"],
    ["a{{/* a comment */}}b", "ab"],
    ["{{.}}", "{abc true 0 {manager map[disk:ssd zone:east] } <nil> [a b] []}"],
  ])("%s", (tmpl, out) => {
    expect(parseTemplate(tmpl).execute(node)).toBe(out);
  });

  it.each([
    ["{{.ID", "template parsing error: unclosed action"],
    ["{{if .Self}}x", "template parsing error: unexpected EOF: {{if}} without {{end}}"],
    ["{{end}}", "template parsing error: unexpected {{end}}"],
    ["{{nope .ID}}", 'template parsing error: function "nope" not defined'],
    ["{{$x}}", "template parsing error: variables ($x) are not supported"],
    ["{{if .Self}}a{{else}}b{{else}}c{{end}}", "template parsing error: expected end; found else"],
  ])("refuses %s", (tmpl, message) => {
    expect(() => parseTemplate(tmpl)).toThrow(message);
  });

  it.each([
    ["{{.Nope}}", "template: executing {{.Nope}}: can't evaluate field Nope in type object"],
    ["{{.ID.Sub}}", "template: executing {{.ID.Sub}}: can't evaluate field Sub in type string"],
    ["{{.ID .Self}}", "template: executing {{.ID .Self}}: can't give argument to non-function"],
    ["{{join .Tags}}", "template: executing {{join .Tags}}: wrong number of args for join: want 2 got 1"],
  ])("fails executing %s", (tmpl, message) => {
    expect(() => parseTemplate(tmpl).execute(node)).toThrow(message);
  });
});

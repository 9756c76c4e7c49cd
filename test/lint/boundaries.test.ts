// The architecture's import boundaries are enforced by the lint configuration: prove each one fires.
import { ESLint } from "eslint";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");
const eslint = new ESLint({ cwd: root });

async function boundaryErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return result!.messages.filter((m) => m.ruleId === "swarm/boundaries").map((m) => m.message);
}

describe("lint boundaries", () => {
  it("manager/raft imports nothing else of the repo but its own wire messages", async () => {
    expect(await boundaryErrors("manager/raft/node/x.ts", 'import { a } from "../../store/index.js";\nexport const b = a;\n')).toEqual([
      expect.stringContaining("manager/raft is a standalone library"),
    ]);
    expect(await boundaryErrors("manager/raft/transport/x.ts", 'import { Entry } from "../../../proto/gen/raft.js";\nexport const b = Entry;\n')).toEqual([]);
    expect(await boundaryErrors("manager/raft/node/x.ts", 'import { RawNode } from "../core/index.js";\nexport const b = RawNode;\n')).toEqual([]);
  });

  it("agent/ never imports manager/", async () => {
    expect(await boundaryErrors("agent/x.ts", 'import { a } from "../manager/store/index.js";\nexport const b = a;\n')).toEqual([
      expect.stringContaining("agent/ never imports manager/"),
    ]);
  });

  it("scheduler/ and the raft core import no node: I/O modules", async () => {
    expect(await boundaryErrors("scheduler/x.ts", 'import fs from "node:fs";\nexport const b = fs;\n')).toEqual([
      expect.stringContaining("scheduler/ is pure"),
    ]);
    expect(await boundaryErrors("manager/raft/core/x.ts", 'import net from "node:net";\nexport const b = net;\n')).toEqual([
      expect.stringContaining("the raft core is pure"),
    ]);
  });

  it("the pure cores read no clock and no unseeded randomness", async () => {
    const [result] = await eslint.lintText("export const t = Date.now() + Math.random();\n", {
      filePath: path.join(root, "manager/raft/core/x.ts"),
    });
    expect(result!.messages.map((m) => m.ruleId)).toEqual(["no-restricted-properties", "no-restricted-properties"]);
  });
});

// Fails when proto/gen differs from what `npm run proto` would generate from the .proto sources.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const out = mkdtempSync(path.join(tmpdir(), "proto-check-"));
try {
  execFileSync("npx", ["buf", "generate", "-o", out], { stdio: "inherit" });
  try {
    execFileSync("diff", ["-r", "proto/gen", path.join(out, "proto/gen")], { stdio: "inherit" });
  } catch {
    console.error("proto/gen is stale: run `npm run proto` and commit the result");
    process.exit(1);
  }
  console.log("proto/gen is up to date");
} finally {
  rmSync(out, { recursive: true, force: true });
}

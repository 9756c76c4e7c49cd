// Lint configuration: typescript-eslint's recommended rules plus the architecture's import boundaries
// (docs/ARCHITECTURE.md) and the purity rules of the deterministic cores.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import path from "node:path";
import globals from "globals";

/** Folders (relative to the repo root) and what their modules may not import. */
const BOUNDARIES = [
  {
    from: "manager/raft/",
    allowOnly: ["manager/raft/", "proto/gen/raft.ts"],
    why: "manager/raft is a standalone library: it imports nothing else of the repo but its own wire messages",
  },
  { from: "agent/", deny: ["manager/"], why: "agent/ never imports manager/; they meet only in proto/" },
  { from: "scheduler/", denyNodeIo: true, why: "scheduler/ is pure: no node: I/O modules" },
  { from: "manager/raft/core/", denyNodeIo: true, why: "the raft core is pure: no node: I/O modules" },
];
const NODE_IO = /^(node:)?(fs|fs\/promises|net|dgram|http|http2|https|child_process|worker_threads|cluster|dns|tls|timers|timers\/promises|os|readline)$/;
const ROOT = path.dirname(new URL(import.meta.url).pathname);

const boundaryRule = {
  meta: { type: "problem", schema: [], messages: { crossed: "{{spec}} crosses a boundary: {{why}}" } },
  create(context) {
    const file = path.relative(ROOT, context.filename).split(path.sep).join("/");
    const rules = BOUNDARIES.filter((b) => file.startsWith(b.from));
    if (rules.length === 0) return {};
    function check(node, spec) {
      if (typeof spec !== "string") return;
      for (const b of rules) {
        if (b.denyNodeIo && NODE_IO.test(spec)) {
          context.report({ node, messageId: "crossed", data: { spec, why: b.why } });
          continue;
        }
        if (!spec.startsWith(".")) continue;
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, ".ts");
        const denied =
          (b.allowOnly && !b.allowOnly.some((a) => target.startsWith(a))) ||
          (b.deny && b.deny.some((d) => target.startsWith(d)));
        if (denied) context.report({ node, messageId: "crossed", data: { spec, why: b.why } });
      }
    }
    return {
      ImportDeclaration: (n) => check(n, n.source.value),
      ExportNamedDeclaration: (n) => n.source && check(n, n.source.value),
      ExportAllDeclaration: (n) => check(n, n.source.value),
      ImportExpression: (n) => n.source.type === "Literal" && check(n, n.source.value),
    };
  },
};

const PURE_FOLDERS = ["manager/raft/core/**/*.ts", "scheduler/**/*.ts", "manager/orchestrator/decisions/**/*.ts"];

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "proto/gen/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { languageOptions: { globals: globals.node } },
  {
    plugins: { swarm: { rules: { boundaries: boundaryRule } } },
    rules: {
      "swarm/boundaries": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  {
    files: PURE_FOLDERS,
    ignores: ["**/*.test.ts"],
    rules: {
      "no-restricted-globals": ["error", "setTimeout", "setInterval", "setImmediate", "performance"],
      "no-restricted-properties": [
        "error",
        { object: "Date", property: "now", message: "pure code takes time as an input" },
        { object: "Math", property: "random", message: "pure code takes a seeded random source" },
      ],
    },
  },
);

// Test projects: `unit` (fast, no root, beside the code) and `integration` (test/, root, real processes).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["{manager,scheduler,agent,overlay,daemon,cli,proto}/**/*.test.ts", "test/lint/**/*.test.ts", "test/sim/**/*.test.ts"],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          exclude: ["test/lint/**", "test/sim/**"],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});

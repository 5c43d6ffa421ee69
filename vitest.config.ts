import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    include: ["test/**/*.test.ts", "packages/*/test/**/*.test.ts"],
    pool: "threads",
    // The CLI tests run the bin as a subprocess (and Chromium): seconds each on a busy machine.
    testTimeout: 60_000,
  },
});

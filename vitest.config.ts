import { defineConfig } from "vitest/config";

// Synth tests are CPU-bound; two workers match the 2-core CI machine.
// Every run also writes a JSON report, which .ci/run checks for skipped tests (scripts/ci/check-skips.ts).
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default", "json"],
    outputFile: { json: ".tmp/vitest-report.json" },
    globalSetup: ["test/support/build.ts"],
    setupFiles: ["test/support/cleanup.ts"],
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});

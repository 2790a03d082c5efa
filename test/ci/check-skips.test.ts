// The CI gate against skipped tests (scripts/ci/check-skips.ts), fed by a real vitest run of a small test file
// that skips one test and leaves one todo.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkSkips,
  parseAllowList,
  type TestReport,
  DEFAULT_ALLOW_LIST,
} from "../../scripts/ci/check-skips";
import { REPO_ROOT } from "../support/tools";

const CHECKER = join(REPO_ROOT, "dist/scripts/ci/check-skips.js");
const SKIPPING_TEST = `import { describe, expect, it } from "vitest";
describe("suite", () => {
  it("runs", () => expect(1).toBe(1));
  it.skip("is skipped", () => expect(1).toBe(2));
  it.todo("is todo");
});
`;

let work: string;
let reportFile: string;
let report: TestReport;
let file: string;

beforeAll(() => {
  // Under the repository so the fixture resolves `vitest` from its node_modules.
  mkdirSync(join(REPO_ROOT, ".tmp"), { recursive: true });
  work = mkdtempSync(join(REPO_ROOT, ".tmp", "check-skips-"));
  writeFileSync(join(work, "skipping.test.ts"), SKIPPING_TEST);
  writeFileSync(join(work, "vitest.config.mjs"), "export default { test: { include: ['*.test.ts'] } };\n");
  reportFile = join(work, "report.json");
  execFileSync(
    process.execPath,
    [
      join(REPO_ROOT, "node_modules/vitest/vitest.mjs"),
      "run",
      "--root",
      work,
      "--config",
      join(work, "vitest.config.mjs"),
      "--reporter=json",
      `--outputFile=${reportFile}`,
    ],
    { cwd: work, stdio: "pipe", timeout: 60_000 },
  );
  report = JSON.parse(readFileSync(reportFile, "utf8")) as TestReport;
  file = `.tmp/${work.split("/").pop()}/skipping.test.ts`;
}, 90_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

function cli(allowList: string): { status: number | null; output: string } {
  const allowFile = join(work, "allow.txt");
  writeFileSync(allowFile, allowList);
  const result = spawnSync(process.execPath, [CHECKER, reportFile, allowFile], {
    cwd: REPO_ROOT,
    encoding: "utf8",
  });
  return { status: result.status, output: result.stdout + result.stderr };
}

describe("check-skips", () => {
  it("reads vitest's report: one test ran, one skipped, one todo", () => {
    const statuses = report.testResults.flatMap((f) => f.assertionResults.map((t) => [t.title, t.status]));
    expect(statuses).toEqual([
      ["runs", "passed"],
      ["is skipped", "skipped"],
      ["is todo", "todo"],
    ]);
  });

  it("fails the run on a skipped and a todo test that are not allow-listed, naming each", () => {
    const { status, output } = cli("# nothing allowed\n");
    expect(output).toContain(`skipped test not on ${DEFAULT_ALLOW_LIST}: ${file} > suite > is skipped`);
    expect(output).toContain(`todo test not on ${DEFAULT_ALLOW_LIST}: ${file} > suite > is todo`);
    expect(output).toContain("3 tests, 2 not run (0 allow-listed): 2 problem(s)");
    expect(status).toBe(1);
  });

  it("passes when every test that did not run is allow-listed with a reason", () => {
    const { status, output } = cli(
      `${file} > suite > is skipped | fixture: shows an allowed skip\n` +
        `${file} > suite > is todo | fixture: shows an allowed todo\n`,
    );
    expect(output).toContain("3 tests, 2 not run (2 allow-listed): ok");
    expect(status).toBe(0);
  });

  it("fails when only some of them are allow-listed", () => {
    const { status, output } = cli(`${file} > suite > is skipped | fixture\n`);
    expect(output).toContain(`todo test not on ${DEFAULT_ALLOW_LIST}: ${file} > suite > is todo`);
    expect(output).not.toContain("is skipped\n");
    expect(status).toBe(1);
  });

  it("rejects an allow-list entry without a reason", () => {
    const { status, output } = cli(`${file} > suite > is skipped\n`);
    expect(output).toContain("has no reason");
    expect(status).toBe(2);
    expect(() => parseAllowList("a > b |  \n")).toThrow(/line 1|:1:/);
  });

  it("fails on a stale entry: a listed test that ran, or one that no longer exists", () => {
    const entries = parseAllowList(
      `${file} > suite > is skipped | fixture\n${file} > suite > is todo | fixture\n` +
        `${file} > suite > runs | it ran\n${file} > suite > gone | renamed\n` +
        `test/elsewhere.test.ts > not in this report | ignored: its file did not run\n`,
    );
    const result = checkSkips(report, entries, REPO_ROOT);
    expect(result.problems).toEqual([
      `allow-list line 3 names a test that ran: ${file} > suite > runs`,
      `allow-list line 4 names no test: ${file} > suite > gone`,
    ]);
  });

  it("fails on a report without tests", () => {
    expect(checkSkips({ numTotalTests: 0, testResults: [] }, [], REPO_ROOT).problems).toEqual([
      "the report holds no tests",
    ]);
  });

  it("has a well-formed allow-list in the repository", () => {
    expect(() => parseAllowList(readFileSync(join(REPO_ROOT, DEFAULT_ALLOW_LIST), "utf8"))).not.toThrow();
  });
});

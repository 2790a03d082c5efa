// Fails CI on any test that did not run: reads vitest's JSON report (written by every `vitest run`, see
// vitest.config.ts) and rejects each skipped or todo test that test/skip-allowlist.txt does not name with a reason.
//   node dist/scripts/ci/check-skips.js [report.json] [allow-list]
import { readFileSync } from "node:fs";
import * as path from "node:path";

export const DEFAULT_REPORT = ".tmp/vitest-report.json";
export const DEFAULT_ALLOW_LIST = "test/skip-allowlist.txt";

/** The part of vitest's JSON report (jest's format) the check reads. */
export interface TestReport {
  readonly numTotalTests: number;
  readonly testResults: readonly {
    /** Absolute path of the test file. */
    readonly name: string;
    readonly assertionResults: readonly {
      readonly ancestorTitles: readonly string[];
      readonly title: string;
      /** passed | failed | skipped | pending | todo | disabled */
      readonly status: string;
    }[];
  }[];
}

export interface AllowListEntry {
  /** `<file relative to the repository> > <describe> > ... > <test title>`, as `testId` builds it. */
  readonly test: string;
  readonly reason: string;
  readonly line: number;
}

export interface SkipCheck {
  /** One line per problem; empty when the report passes. */
  readonly problems: string[];
  readonly total: number;
  readonly notRun: number;
  readonly allowed: number;
}

const RAN = new Set(["passed", "failed"]);

export function testId(file: string, ancestorTitles: readonly string[], title: string): string {
  return [file, ...ancestorTitles, title].join(" > ");
}

/** Parses the allow-list: `<test id> | <reason>` per line, `#` comments; an entry without a reason is an error. */
export function parseAllowList(text: string, source = DEFAULT_ALLOW_LIST): AllowListEntry[] {
  const entries: AllowListEntry[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const bar = line.lastIndexOf(" | ");
    const test = bar < 0 ? line : line.slice(0, bar).trim();
    const reason = bar < 0 ? "" : line.slice(bar + 3).trim();
    if (!reason) {
      throw new Error(`${source}:${index + 1}: "${line}" has no reason; write "<test> | <why it may skip>"`);
    }
    entries.push({ test, reason, line: index + 1 });
  });
  return entries;
}

/**
 * Every skipped/todo test must be on the allow-list, and every allow-list entry for a file in the report must
 * still name a test that does not run (so the list cannot go stale). Entries for files outside the report are
 * ignored: a run of a few files says nothing about the others.
 */
export function checkSkips(
  report: TestReport,
  allowList: readonly AllowListEntry[],
  root: string,
): SkipCheck {
  const problems: string[] = [];
  const allowedIds = new Map(allowList.map((e) => [e.test, e]));
  const seen = new Map<string, string>();
  let notRun = 0;
  let allowed = 0;
  for (const file of report.testResults) {
    const relative = path.relative(root, file.name).split(path.sep).join("/");
    for (const test of file.assertionResults) {
      const id = testId(relative, test.ancestorTitles, test.title);
      seen.set(id, test.status);
      if (RAN.has(test.status)) continue;
      notRun += 1;
      if (allowedIds.has(id)) allowed += 1;
      else problems.push(`${test.status} test not on ${DEFAULT_ALLOW_LIST}: ${id}`);
    }
  }
  const filesInReport = new Set([...seen.keys()].map((id) => id.split(" > ")[0]));
  for (const entry of allowList) {
    if (!filesInReport.has(entry.test.split(" > ")[0])) continue;
    const status = seen.get(entry.test);
    if (status === undefined) problems.push(`allow-list line ${entry.line} names no test: ${entry.test}`);
    else if (RAN.has(status))
      problems.push(`allow-list line ${entry.line} names a test that ran: ${entry.test}`);
  }
  if (report.numTotalTests === 0) problems.push("the report holds no tests");
  return { problems, total: report.numTotalTests, notRun, allowed };
}

function main(argv: string[]): number {
  const [reportFile = DEFAULT_REPORT, allowListFile = DEFAULT_ALLOW_LIST] = argv;
  const report = JSON.parse(readFileSync(reportFile, "utf8")) as TestReport;
  const allowList = parseAllowList(readFileSync(allowListFile, "utf8"), allowListFile);
  const result = checkSkips(report, allowList, process.cwd());
  for (const problem of result.problems) console.error(`check-skips: ${problem}`);
  console.log(
    `check-skips: ${result.total} tests, ${result.notRun} not run (${result.allowed} allow-listed): ` +
      (result.problems.length === 0 ? "ok" : `${result.problems.length} problem(s)`),
  );
  return result.problems.length === 0 ? 0 : 1;
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (error) {
    console.error(`check-skips: ${(error as Error).message}`);
    process.exitCode = 2;
  }
}

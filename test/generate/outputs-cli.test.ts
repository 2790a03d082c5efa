// `npm run outputs` (dist/scripts/write-agent-config.js) on broken outputs files: one line, exit 1, no stack trace.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const cli = path.resolve(__dirname, "..", "..", "dist", "scripts", "write-agent-config.js");

describe("npm run outputs", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "htc-outputs-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const run = (outputs: string | undefined) => {
    const file = path.join(dir, "outputs.json");
    if (outputs !== undefined) writeFileSync(file, outputs);
    return spawnSync(process.execPath, [cli], {
      cwd: dir,
      env: { ...process.env, HTCGRID_CONFIG: "", HTCGRID_OUTPUTS_FILE: file },
      encoding: "utf8",
    });
  };
  const oneLine = (r: ReturnType<typeof run>, text: string | RegExp) => {
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(text);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  };

  it.each([
    ["a missing file", undefined, /outputs\.json does not exist; run `npx cdktf output grid --outputs-file/],
    ["text that is not JSON", "{grid:", /outputs\.json is not valid JSON/],
    ["null", "null", /the outputs file holds null, not the object cdktf writes/],
    ["a list", "[]", /the outputs file holds a list/],
    ["no grid stack", '{"images": {}}', /the outputs file has no "grid" stack/],
    ["a grid stack that is not an object", '{"grid": "x"}', /the outputs of stack "grid" are a string/],
    ["no agent_config output", '{"grid": {}}', /stack "grid" has no "agent_config" output/],
    [
      "an agent_config that is not JSON",
      '{"grid": {"agent_config": "{"}}',
      /"agent_config" output .* is not JSON/,
    ],
    ["an agent_config that is a number", '{"grid": {"agent_config": 3}}', /is a number, not a JSON object/],
  ])("refuses %s", (_name, outputs, message) => {
    oneLine(run(outputs), message);
    expect(existsSync(path.join(dir, "generated", "agent_config.json"))).toBe(false);
  });

  it("creates generated/ and writes the document with mode 0600", () => {
    const r = run(JSON.stringify({ grid: { agent_config: JSON.stringify({ region: "eu-west-1" }) } }));
    expect(r.status).toBe(0);
    const file = path.join(dir, "generated", "agent_config.json");
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({
      region: "eu-west-1",
      redis_password: "",
      api_gateway_key: "",
    });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("reports a generated/ that is not a directory in one line", () => {
    writeFileSync(path.join(dir, "generated"), "");
    oneLine(run(JSON.stringify({ grid: { agent_config: "{}" } })), /^outputs: cannot .*generated: E[A-Z]+/);
  });

  it("reports an outputs path that is a directory in one line", () => {
    mkdirSync(path.join(dir, "outputs.json"));
    oneLine(run(undefined), /^outputs: cannot read .*outputs\.json: EISDIR/);
  });
});

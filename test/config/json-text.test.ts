import { describe, expect, it } from "vitest";
import { ConfigError, parseGridConfigText } from "../../modules/config/load";
import { findDuplicateKeys } from "../../modules/config/json-text";
import { SEED_GRID_CONFIG } from "../../modules/config/seed";

describe("duplicate keys", () => {
  it("finds a repeated key with its JSON path and both lines", () => {
    const text = '{\n  "a": 1,\n  "b": {"c": [ {"d": 1,\n "d": 2} ]},\n  "a": 3\n}';
    expect(findDuplicateKeys(text)).toEqual([
      { path: "b.c[0].d", firstLine: 3, line: 4 },
      { path: "a", firstLine: 2, line: 5 },
    ]);
  });

  it("does not confuse equal keys in different objects, escaped quotes or keys inside strings", () => {
    const text = JSON.stringify({ x: { k: 1 }, y: { k: 2 }, s: '"k": 1, "k": 2', 'q"': 1, q: 2 });
    expect(findDuplicateKeys(text)).toEqual([]);
  });
});

describe("byte-order mark", () => {
  it("is ignored, so a valid file with one loads", () => {
    const config = parseGridConfigText(`\ufeff${JSON.stringify(SEED_GRID_CONFIG)}`, "bom.json");
    expect(config.projectName).toBe("main");
  });

  it("keeps line and column of a syntax error as the editor shows them", () => {
    expect(() => parseGridConfigText('\ufeff{\n  "region": "eu-west-1",\n}', "bom.json")).toThrow(
      /not valid JSON at line 3, column 1/,
    );
  });

  it("does not turn a duplicate into a parse error", () => {
    try {
      parseGridConfigText('\ufeff{"region": "eu-west-1", "region": "eu-west-1"}', "bom.json");
      expect.unreachable();
    } catch (e) {
      expect((e as ConfigError).issues).toEqual([
        {
          path: "region",
          message: "is given twice (lines 1 and 1); JSON keeps only the last one, so remove one of them",
        },
      ]);
    }
  });
});

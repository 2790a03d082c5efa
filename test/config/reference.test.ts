import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { configReferenceMarkdown, gridConfigJsonSchema } from "../../modules/config/reference";

const root = path.resolve(__dirname, "..", "..");

describe("generated config documentation", () => {
  it("README's config reference matches the schema (run `npm run schema` after changing it)", () => {
    const readme = readFileSync(path.join(root, "README.md"), "utf8");
    expect(readme).toContain(`\n${configReferenceMarkdown()}\n<!-- config-reference:end -->`);
  });

  it("generated/grid_config.schema.json matches the schema (run `npm run schema`)", () => {
    const committed = JSON.parse(
      readFileSync(path.join(root, "generated", "grid_config.schema.json"), "utf8"),
    );
    expect(committed).toEqual(gridConfigJsonSchema());
  });

  it("documents every top-level key with a default or as optional", () => {
    const schema = gridConfigJsonSchema() as { properties: Record<string, { description?: string }> };
    const undocumented = Object.entries(schema.properties)
      .filter(([key, s]) => key !== "$schema" && !s.description)
      .map(([key]) => key);
    expect(undocumented).toEqual([]);
  });
});

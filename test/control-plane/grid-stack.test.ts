import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { GridStack } from "../../stacks/grid-stack";
import { gridConfig } from "./fixtures";
import { testApp } from "../support/test-app";

describe("grid stack composition", () => {
  it("composes the control plane and writes self-contained Lambda zips (real esbuild bundles) into the stack folder", () => {
    const config = gridConfig();
    const app = testApp();
    const grid = new GridStack(app, "grid", { config });
    app.synth();

    const stackDir = path.join(app.outdir, "stacks", "grid");
    const synth = JSON.parse(fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8"));
    const functions = Object.values(synth.resource.aws_lambda_function) as { filename: string }[];
    expect(functions).toHaveLength(5);
    for (const fn of functions) {
      expect(path.isAbsolute(fn.filename)).toBe(false);
      const zip = fs.readFileSync(path.join(stackDir, fn.filename));
      expect(zip.subarray(0, 2).toString()).toBe("PK");
      expect(zip.includes(Buffer.from("index.js"))).toBe(true);
      expect(zip.length).toBeLessThan(1024 * 1024);
    }
    expect(Object.keys(synth.output)).toEqual(
      expect.arrayContaining([
        "agent_config",
        "cognito_userpool_client_id",
        "cognito_userpool_id",
        "private_api_gateway_url",
        "public_api_gateway_url",
      ]),
    );
    expect(grid.controlPlane.taskQueues).toHaveLength(1);
  });
});

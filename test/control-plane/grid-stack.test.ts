import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { Testing } from "cdktf";
import { GridStack, composeControlPlane } from "../../stacks/grid-stack";
import { buildPrerequisites, gridConfig, tinyBundler } from "./fixtures";

describe("grid stack composition", () => {
  it("adds the control plane to the grid stack and writes self-contained Lambda zips into the stack folder", () => {
    const config = gridConfig();
    const app = Testing.app();
    const grid = new GridStack(app, "grid", { config });
    // Until the network/data-plane helpers land in GridStack, the test provides their hand-offs.
    const { keys, network, dataPlane } = buildPrerequisites(grid, config, "test-");
    const plane = composeControlPlane(grid, config, { keys, network, dataPlane, bundle: tinyBundler });
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
    }
    expect(Object.keys(synth.output).sort()).toEqual([
      "cognito_userpool_client_id",
      "cognito_userpool_id",
      "private_api_gateway_url",
      "public_api_gateway_url",
    ]);
    expect(plane.taskQueues).toHaveLength(1);
  });
});

// The stock image table: every runtime name maps to a row, tags do not move, images go through the cache, and the
// README shows the table as the code has it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  BUILTIN_WORKER_RUNTIME,
  STOCK_IMAGES,
  WORKER_RUNTIMES,
  stockImageReference,
  stockImageTableMarkdown,
} from "../../modules/images/stock-images";
import { parseGridConfig } from "../../modules/config/load";
import { gridConfig } from "../support/grid-synth";

describe("stock images", () => {
  it("pins tags that do not move: a full Node.js version, AWS's dated Lambda snapshots", () => {
    expect(STOCK_IMAGES.node.tag).toMatch(/^\d+\.\d+\.\d+-bookworm-slim$/);
    for (const name of ["lambdaNodejs", "lambdaPython", "lambdaJava", "lambdaProvided"] as const) {
      expect(STOCK_IMAGES[name].tag, name).toMatch(/\.20\d\d\.\d\d\.\d\d\.\d\d$/);
    }
    for (const image of Object.values(STOCK_IMAGES)) {
      if (image.digest !== undefined) expect(image.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      else expect(image.digestSource).toMatch(/^no public source showed/);
    }
  });

  it("maps every runtime name to AWS's image for that language (java to java:21, not a tag nobody built)", () => {
    const upstream = (runtime: string) => STOCK_IMAGES[WORKER_RUNTIMES[runtime].image].upstream;
    expect(upstream("nodejs")).toBe("public.ecr.aws/lambda/nodejs");
    expect(upstream("python")).toBe("public.ecr.aws/lambda/python");
    expect(upstream("java")).toBe("public.ecr.aws/lambda/java");
    expect(STOCK_IMAGES.lambdaJava.tag).toMatch(/^21\./);
    expect(upstream("provided")).toBe("public.ecr.aws/lambda/provided");
    expect(STOCK_IMAGES.lambdaProvided.tag).toMatch(/^al2023\./);
    expect(WORKER_RUNTIMES.provided.command).toEqual([
      "/usr/local/bin/aws-lambda-rie",
      "/var/task/bootstrap",
    ]);
    expect(WORKER_RUNTIMES[BUILTIN_WORKER_RUNTIME].defaultHandler).toBe("index.handler");
  });

  it("pulls them through the grid's ECR Public pull-through cache", () => {
    expect(stockImageReference("1.dkr.ecr.r.amazonaws.com", "node")).toBe(
      `1.dkr.ecr.r.amazonaws.com/ecr-public/docker/library/node:${STOCK_IMAGES.node.tag}`,
    );
    expect(stockImageReference("reg", "lambdaJava")).toBe(
      `reg/ecr-public/lambda/java:${STOCK_IMAGES.lambdaJava.tag}`,
    );
  });

  it("is shown in the README as the code has it", () => {
    const readme = readFileSync(join(__dirname, "../../README.md"), "utf8");
    expect(readme).toContain(`\n${stockImageTableMarkdown()}\n<!-- stock-images:end -->`);
  });
});

describe("worker runtime in the config", () => {
  it("defaults to nodejs for the built-in worker and to upstream's provided with a location", () => {
    expect(gridConfig().agent.lambda).toMatchObject({ runtime: "nodejs", handler: "index.handler" });
    const located = gridConfig({ agent_configuration: { lambda: { location: "s3://my-zips/k.zip" } } });
    expect(located.agent.lambda).toMatchObject({
      runtime: "provided",
      handler: "bootstrap.main",
      s3Source: "s3://my-zips/k.zip",
    });
  });

  it("refuses a runtime with no stock image, naming the choices", () => {
    expect(() =>
      gridConfig({ agent_configuration: { lambda: { location: "s3://my-zips/k.zip", runtime: "java17" } } }),
    ).toThrow(
      /agent_configuration\.lambda\.runtime: "java17" has no stock worker image; allowed: "nodejs", .*or set agent_configuration\.lambda\.image/,
    );
    // With upstream's runtime image, any tag goes.
    const custom = gridConfig({
      agent_configuration: { lambda: { location: "s3://my-zips/k.zip", runtime: "java17", image: "lambda" } },
    });
    expect(custom.agent.lambda.image).toEqual({
      repository: "lambda",
      tag: "java17",
      pullPolicy: "IfNotPresent",
    });
  });

  it("refuses a non-Node runtime for the built-in Node.js worker", () => {
    expect(() => gridConfig({ agent_configuration: { lambda: { runtime: "python" } } })).toThrow(
      /"python" cannot run the built-in worker \(the mock compute engine, a Node\.js handler\)/,
    );
  });

  it("asks for a handler where the runtime has no default", () => {
    expect(() =>
      gridConfig({ agent_configuration: { lambda: { location: "s3://my-zips/k.zip", runtime: "python" } } }),
    ).toThrow(
      /runtime "python" needs a handler: set lambda_handler_file_name and lambda_handler_function_name/,
    );
  });

  it("takes a local zip relative to the config file and refuses a missing one", () => {
    const dir = join(__dirname, "..", "fixtures");
    expect(() => gridConfig({ agent_configuration: { lambda: { location: "no-such.zip" } } })).toThrow(
      /agent_configuration\.lambda\.location: "no-such\.zip" is not a file \(looked for .*no-such\.zip/,
    );
    const config = parseGridConfig(
      { agent_configuration: { lambda: { location: "seed-grid-config.json", runtime: "nodejs" } } },
      "t",
      {},
      dir,
    );
    expect(config.agent.lambda.localZip).toBe(join(dir, "seed-grid-config.json"));
  });
});

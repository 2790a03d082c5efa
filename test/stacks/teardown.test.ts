// The teardown switch: by default everything that holds data refuses deletion (so `cdktf destroy` stops there);
// `allow_destroy: true` lifts every one of those safeguards at once and nothing else.
import { beforeAll, describe, expect, it } from "vitest";
import { gridConfig, resourcesOf, synthApp, type TfBlock, type TfJson } from "../support/grid-synth";

/** What would stop `cdktf destroy` on each stack, as synthesized. */
function destroyGuards(stacks: Record<string, TfJson>) {
  const all = (stack: string, type: string): TfBlock[] => Object.values(resourcesOf(stacks[stack], type));
  return {
    stateTable: all("grid", "aws_dynamodb_table").map((t) => t.deletion_protection_enabled),
    lockTable: all("bootstrap", "aws_dynamodb_table").map((t) => t.deletion_protection_enabled),
    userPool: all("grid", "aws_cognito_user_pool").map((p) => p.deletion_protection),
    bootstrapBuckets: all("bootstrap", "aws_s3_bucket").map((b) => b.force_destroy),
    repositories: all("images", "aws_ecr_repository").map((r) => r.force_delete),
  };
}

describe("teardown switch", () => {
  let safe: ReturnType<typeof destroyGuards>;
  let open: ReturnType<typeof destroyGuards>;
  beforeAll(() => {
    safe = destroyGuards(synthApp(gridConfig({ state_locking: "dynamodb" })));
    open = destroyGuards(synthApp(gridConfig({ state_locking: "dynamodb", allow_destroy: true })));
  });

  it("keeps every safeguard by default", () => {
    expect(safe).toEqual({
      stateTable: [true],
      lockTable: [true],
      userPool: ["ACTIVE"],
      bootstrapBuckets: [false, false],
      repositories: [false, false, false, false],
    });
  });

  it("lifts every safeguard with allow_destroy", () => {
    expect(open).toEqual({
      stateTable: [false],
      lockTable: [false],
      userPool: ["INACTIVE"],
      bootstrapBuckets: [true, true],
      repositories: [true, true, true, true],
    });
  });

  it("overrides dynamodb_deletion_protection, which alone still protects the table", () => {
    const explicit = destroyGuards(
      synthApp(gridConfig({ dynamodb_deletion_protection: true, allow_destroy: true })),
    );
    expect(explicit.stateTable).toEqual([false]);
    const off = destroyGuards(synthApp(gridConfig({ dynamodb_deletion_protection: false })));
    expect(off.stateTable).toEqual([false]);
    expect(off.userPool).toEqual(["ACTIVE"]);
  });
});

// Bad subnet layouts are refused when the config is parsed, with a message that names the key and the problem,
// long before anything is synthesized or planned.
import { describe, expect, it } from "vitest";
import { ConfigError, parseGridConfig } from "../../modules/config/load";
import { SEED_GRID_CONFIG } from "../../modules/config/seed";

/** The ConfigError lines for a seed config with overrides (fails the test when parsing succeeds). */
function problems(overrides: Record<string, unknown>): string[] {
  try {
    parseGridConfig({ ...structuredClone(SEED_GRID_CONFIG), ...overrides }, "test");
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error("the config was accepted");
}

describe("subnet layout validation at config parse", () => {
  it("refuses netmask subnets that do not fit in the VPC for the AZ count", () => {
    const lines = problems({
      vpc_cidr_block: "10.0.0.0/20",
      vpc_cidr_block_public: 24,
      vpc_cidr_block_private: 21,
    });
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^vpc_cidr_block_private: 3 public \/24 and 3 private \/21 subnets do not fit in 10\.0\.0\.0\/20/,
      ),
    );
  });

  it("refuses a subnet netmask larger than the VPC itself", () => {
    const lines = problems({
      vpc_cidr_block: "10.0.0.0/20",
      vpc_cidr_block_public: 24,
      vpc_cidr_block_private: 18,
    });
    expect(lines).toContainEqual(
      expect.stringContaining("vpc_cidr_block_private: /18 is larger than the VPC range 10.0.0.0/20"),
    );
  });

  it("refuses overlapping explicit subnets and names both", () => {
    const lines = problems({
      vpc_cidr_block_public: ["10.0.192.0/24", "10.0.193.0/24", "10.0.194.0/24"],
      vpc_cidr_block_private: ["10.0.0.0/18", "10.0.64.0/18", "10.0.192.0/18"],
    });
    expect(lines).toContainEqual(
      'vpc_cidr_block_private[2]: "10.0.192.0/18" overlaps vpc_cidr_block_public[0] (10.0.192.0/24)',
    );
  });

  it("refuses explicit subnets outside the VPC range", () => {
    const lines = problems({
      vpc_cidr_block_public: ["10.0.192.0/24", "10.1.193.0/24", "10.0.194.0/24"],
    });
    expect(lines).toContainEqual(
      'vpc_cidr_block_public[1]: "10.1.193.0/24" is outside the VPC range 10.0.0.0/16',
    );
  });

  it("refuses more AZs than the region has (checked against the region table, not a default VPC)", () => {
    const lines = problems({
      vpc_cidr_block_public: 24,
      vpc_cidr_block_private: 20,
      availability_zone_count: 4,
    });
    expect(lines).toContainEqual(
      "availability_zone_count: 4 availability zones requested but eu-west-1 has 3; allowed: 2 to 3",
    );
  });

  it("refuses public and private lists of different lengths", () => {
    const lines = problems({ vpc_cidr_block_private: ["10.0.0.0/18", "10.0.64.0/18"] });
    expect(lines).toContainEqual(
      expect.stringMatching(/^vpc_cidr_block_private: lists 2 subnets but vpc_cidr_block_public lists 3/),
    );
  });

  it("refuses a single AZ: EKS needs two", () => {
    const lines = problems({
      vpc_cidr_block_public: 24,
      vpc_cidr_block_private: 18,
      availability_zone_count: 1,
    });
    expect(lines).toContainEqual(
      expect.stringMatching(/^availability_zone_count: 1 is not allowed; EKS needs at least 2/),
    );
  });

  it("refuses mixing a netmask with a CIDR list", () => {
    const lines = problems({ vpc_cidr_block_public: 24 });
    expect(lines).toContainEqual(expect.stringMatching(/^vpc_cidr_block_private: must use the same form/));
  });
});

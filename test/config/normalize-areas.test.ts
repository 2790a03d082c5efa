// Unit tests of the normalizer's area modules: each rule called directly, with the issues it records.
import { describe, expect, it } from "vitest";
import { parseGridConfig } from "../../modules/config/load";
import { gridConfigSchema, type RawGridConfig } from "../../modules/config/schema";
import { SEED_GRID_CONFIG } from "../../modules/config/seed";
import { checkInstanceTypes, normalizeComputePlane } from "../../modules/config/normalize/compute-plane";
import { normalizeControlPlane, scheduleProblem } from "../../modules/config/normalize/control-plane";
import { normalizeDataPlane } from "../../modules/config/normalize/data-plane";
import { checkArnPartition, checkTags, partitionOf } from "../../modules/config/normalize/identity";
import type { ConfigIssue } from "../../modules/config/normalize/issues";
import { checkCidrList, checkPublicAccessAcknowledgements } from "../../modules/config/normalize/network";

/** The seed through the schema (defaults filled), with overrides. */
function raw(overrides: Record<string, unknown> = {}): RawGridConfig {
  return gridConfigSchema.parse({ ...structuredClone(SEED_GRID_CONFIG), ...overrides });
}

/** Runs `fn` with an issue sink; returns the issues as `path: message` lines. */
function collect(fn: (issue: (path: string, message: string) => void) => unknown): string[] {
  const issues: ConfigIssue[] = [];
  fn((path, message) => issues.push({ path, message }));
  return issues.map((i) => `${i.path}: ${i.message}`);
}

describe("identity", () => {
  it("maps regions to their partition", () => {
    expect(partitionOf("eu-west-1")).toBe("aws");
    expect(partitionOf("cn-north-1")).toBe("aws-cn");
    expect(partitionOf("us-gov-east-1")).toBe("aws-us-gov");
  });

  it("refuses an ARN of another partition and accepts one of the region's", () => {
    expect(collect((i) => checkArnPartition("x", "arn:aws:iam::1:role/r", "cn-north-1", i))).toEqual([
      'x: "arn:aws:iam::1:role/r" is in partition "aws" but region cn-north-1 is in "aws-cn"; allowed: an ARN starting "arn:aws-cn:"',
    ]);
    expect(collect((i) => checkArnPartition("x", "arn:aws-cn:iam::1:role/r", "cn-north-1", i))).toEqual([]);
  });

  it("counts the grid's own tags, and its nodes' two more, against AWS's 50", () => {
    const tags = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, "v"]));
    expect(collect((i) => checkTags(tags(45), i))).toEqual([]);
    expect(collect((i) => checkTags(tags(46), i))[0]).toMatch(/^tags: 46 tags is too many/);
  });

  it("refuses template syntax in tags through the character rule", () => {
    expect(collect((i) => checkTags({ team: '${file("/etc/passwd")}' }, i))[0]).toMatch(
      /^tags\.team: .* is not allowed; allowed: letters, digits, spaces/,
    );
  });
});

describe("network", () => {
  it("refuses wide CIDRs only without the key's acknowledgement", () => {
    const refused = collect((i) =>
      checkCidrList("grafana_allowed_cidrs", ["0.0.0.0/0"], i, {
        allowPublic: false,
        publicAccessKey: "grafana_allowed_cidrs",
      }),
    );
    expect(refused[0]).toContain('add "grafana_allowed_cidrs" to allow_public_access');
    expect(
      collect((i) =>
        checkCidrList("grafana_allowed_cidrs", ["0.0.0.0/0"], i, {
          allowPublic: true,
          publicAccessKey: "grafana_allowed_cidrs",
        }),
      ),
    ).toEqual([]);
  });

  it("treats anything wider than a /8 as open to the internet, a /8 as not", () => {
    const lines = collect((i) =>
      checkCidrList("allowed_access_cidr_blocks", ["11.0.0.0/8", "0.0.0.0/7"], i, {
        allowPublic: false,
        publicAccessKey: "allowed_access_cidr_blocks",
      }),
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^allowed_access_cidr_blocks\[1\]: "0\.0\.0\.0\/7" opens/);
  });

  it("reports an acknowledgement that opens nothing", () => {
    const r = raw({ allow_public_access: ["allowed_access_cidr_blocks"] });
    expect(collect((i) => checkPublicAccessAcknowledgements(r, i))).toEqual([
      'allow_public_access[0]: "allowed_access_cidr_blocks" acknowledges nothing: no CIDR in allowed_access_cidr_blocks is wider than /8; remove it',
    ]);
  });

  it("accepts a world-open CIDR end to end when acknowledged", () => {
    const c = parseGridConfig(
      {
        ...structuredClone(SEED_GRID_CONFIG),
        eks_public_access: true,
        eks_public_access_cidrs: ["0.0.0.0/0"],
        allow_public_access: ["eks_public_access_cidrs"],
      },
      "t",
    );
    expect(c.computePlane.publicEndpointCidrs).toEqual(["0.0.0.0/0"]);
  });
});

describe("data plane", () => {
  it("resolves the parameter-group family of each engine version", () => {
    const family = (engine: string, version: string) =>
      normalizeDataPlane(raw({ redis_engine: engine, redis_engine_version: version }), () => {})?.redis
        .parameterGroupFamily;
    expect(family("redis", "7.1")).toBe("redis7");
    expect(family("valkey", "8.2")).toBe("valkey8");
    expect(family("valkey", "9.0")).toBe("valkey9");
  });

  it("points at the other engine when the version belongs to it", () => {
    const lines = collect((i) => normalizeDataPlane(raw({ redis_engine_version: "8.0" }), i));
    expect(lines[0]).toContain('(it is a valkey version: set redis_engine "valkey")');
  });

  it("requires a cache node type of a supported family", () => {
    expect(collect((i) => normalizeDataPlane(raw({ redis_node_type: "cache.t4g.micro" }), i))).toEqual([]);
    expect(collect((i) => normalizeDataPlane(raw({ redis_node_type: "m5.large" }), i))[0]).toMatch(
      /^redis_node_type: "m5\.large" is not an ElastiCache node type/,
    );
  });
});

describe("control plane", () => {
  it("checks EventBridge schedule syntax", () => {
    expect(scheduleProblem("rate(1 minute)")).toBeUndefined();
    expect(scheduleProblem("rate(5 minutes)")).toBeUndefined();
    expect(scheduleProblem("cron(0/5 * * * ? *)")).toBeUndefined();
    expect(scheduleProblem("rate(5 minute)")).toContain('"rate(5 minutes)"');
    expect(scheduleProblem("rate(0 minutes)")).toContain("at least 1");
    expect(scheduleProblem("cron(0 12 * * ?)")).toContain("6 fields");
  });

  it("refuses two functions with one physical name, naming both keys", () => {
    const lines = collect((i) => normalizeControlPlane(raw({ lambda_name_get_results: "submit_task" }), i));
    expect(lines).toEqual([
      'lambda_name_get_results: "submit_task" gives the same function name as lambda_name_submit_tasks ("submit_task-main"); each Lambda needs its own name',
    ]);
  });

  it("accepts base names that the naming helper shortens with a hash", () => {
    expect(
      collect((i) => normalizeControlPlane(raw({ lambda_name_cancel_tasks: "c".repeat(70) }), i)),
    ).toEqual([]);
  });
});

describe("compute plane", () => {
  it("refuses arm64 and accelerated types for the x86_64 AMI", () => {
    const lines = collect((i) =>
      checkInstanceTypes("t", ["m6i.large", "m7g.large", "g5.xlarge", "a1.large"], i),
    );
    expect(lines.map((l) => l.slice(0, 5))).toEqual(["t[1]:", "t[2]:", "t[3]:"]);
  });

  it("resolves the autoscaler image from the pin or the override", () => {
    const pinned = normalizeComputePlane(raw(), new Set(), () => {});
    expect(pinned?.clusterAutoscalerImageTag).toBe("v1.35.2");
    const override = normalizeComputePlane(
      raw({ kubernetes_version: "1.33", k8s_ca_version: "v1.33.4" }),
      new Set(),
      () => {},
    );
    expect(override?.clusterAutoscalerImageTag).toBe("v1.33.4");
  });
});

describe("agent images", () => {
  it("keeps repositories registry-free when aws_htc_ecr is set (the chart prefixes the registry once)", () => {
    const seed = structuredClone(SEED_GRID_CONFIG) as Record<string, unknown> & {
      agent_configuration: Record<string, Record<string, unknown>>;
    };
    seed.agent_configuration.agent = { ...seed.agent_configuration.agent, image: "awshpc-lambda" };
    seed.agent_configuration.lambda = { ...seed.agent_configuration.lambda, image: "lambda" };
    const c = parseGridConfig({ ...seed, aws_htc_ecr: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/" }, "t");
    expect(c.agent.ecrRegistry).toBe("123456789012.dkr.ecr.eu-west-1.amazonaws.com");
    expect(c.agent.agent.image?.repository).toBe("awshpc-lambda");
    expect(c.agent.lambda.image?.repository).toBe("lambda");
  });
});

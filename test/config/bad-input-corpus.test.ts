// Table-driven corpus of malformed grid configurations run through the real entry point (`node dist/main.js`):
// each must exit non-zero, name the JSON path of the problem, and leave the output directory byte-identical.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SEED_GRID_CONFIG } from "../../modules/config/seed";

const root = path.resolve(__dirname, "..", "..");
const seed = () => structuredClone(SEED_GRID_CONFIG) as Record<string, unknown>;
const group = (over: Record<string, unknown>) => ({
  name: "g",
  override_instance_types: ["m5.xlarge"],
  asg_min_size: 0,
  asg_max_size: 3,
  asg_desired_capacity: 1,
  ...over,
});

interface Case {
  readonly name: string;
  /** The config: an object (serialized) or raw text. */
  readonly config: Record<string, unknown> | string;
  /** Text each expected problem line must contain (the JSON path, usually with more). */
  readonly expect: string[];
}

const CASES: Case[] = [
  { name: "not JSON", config: "{ region: eu-west-1 }", expect: ["not valid JSON at line 1"] },
  { name: "trailing comma", config: '{"region": "eu-west-1",}', expect: ["not valid JSON"] },
  {
    name: "JSON array instead of object",
    config: "[]",
    expect: ["(root): [] has the wrong type; expected object"],
  },
  {
    name: "unknown key with suggestion",
    config: { ...seed(), max_htc_agent: 5 },
    expect: ['max_htc_agent: unknown key; did you mean "max_htc_agents"?'],
  },
  {
    name: "unknown nested key with suggestion",
    config: { ...seed(), agent_configuration: { lambda: { runtme: "provided" } } },
    expect: ['agent_configuration.lambda.runtme: unknown key; did you mean "runtime"?'],
  },
  {
    name: "unknown worker-group key",
    config: { ...seed(), eks_worker_groups: [group({ asg_max: 2 })] },
    expect: ["eks_worker_groups[0].asg_max: unknown key"],
  },
  {
    name: "wrong type: string for number",
    config: { ...seed(), max_htc_agents: "100" },
    expect: ['max_htc_agents: "100" has the wrong type; expected number'],
  },
  {
    name: "wrong type: number for boolean",
    config: { ...seed(), enable_private_subnet: 1 },
    expect: ["enable_private_subnet: 1 has the wrong type; expected boolean"],
  },
  {
    name: "wrong enum value",
    config: { ...seed(), task_queue_service: "Kafka" },
    expect: ['task_queue_service: "Kafka" is not allowed; allowed: "SQS", "PrioritySQS"'],
  },
  {
    name: "unknown storage mode",
    config: { ...seed(), grid_storage_service: "EFS" },
    expect: ['grid_storage_service: "EFS" is not allowed'],
  },
  {
    name: "upstream's malformed storage default",
    config: { ...seed(), grid_storage_service: "S3 htc-data-bucket-1" },
    expect: ["grid_storage_service:", "malformed default"],
  },
  {
    name: "min > max",
    config: {
      ...seed(),
      eks_worker_groups: [group({ asg_min_size: 4, asg_max_size: 2, asg_desired_capacity: 2 })],
    },
    expect: ["eks_worker_groups[0].asg_min_size: 4 is greater than asg_max_size (2)"],
  },
  {
    name: "desired above max",
    config: { ...seed(), eks_worker_groups: [group({ asg_desired_capacity: 9 })] },
    expect: ["eks_worker_groups[0].asg_desired_capacity: 9 is outside [asg_min_size 0, asg_max_size 3]"],
  },
  {
    name: "desired below min (upstream keys)",
    config: {
      ...seed(),
      eks_worker_groups: [
        { node_group_name: "u", instance_types: ["m5.large"], min_size: 2, max_size: 4, desired_size: 1 },
      ],
    },
    expect: ["eks_worker_groups[0].desired_size: 1 is outside [min_size 2, max_size 4]"],
  },
  {
    name: "empty instance types",
    config: { ...seed(), eks_worker_groups: [group({ override_instance_types: [] })] },
    expect: ["eks_worker_groups[0].override_instance_types: [] is not allowed"],
  },
  {
    name: "invalid instance type",
    config: { ...seed(), eks_worker_groups: [group({ override_instance_types: ["m5 xlarge"] })] },
    expect: ["eks_worker_groups[0].override_instance_types[0]:"],
  },
  {
    name: "negative capacity",
    config: { ...seed(), eks_worker_groups: [group({ asg_min_size: -1 })] },
    expect: ["eks_worker_groups[0].asg_min_size: -1 is negative"],
  },
  {
    name: "negative agents",
    config: { ...seed(), min_htc_agents: -1 },
    expect: ["min_htc_agents: -1 is too small; minimum 0"],
  },
  {
    name: "min agents above max agents",
    config: { ...seed(), min_htc_agents: 10, max_htc_agents: 5 },
    expect: ["min_htc_agents: 10 is greater than max_htc_agents (5)"],
  },
  {
    name: "duplicate node-group names",
    config: { ...seed(), eks_worker_groups: [group({}), group({})] },
    expect: ['eks_worker_groups[1].name: "g" duplicates eks_worker_groups[0]'],
  },
  {
    name: "mixed key sets in one group",
    config: { ...seed(), eks_worker_groups: [group({ instance_types: ["m5.large"] })] },
    expect: ["eks_worker_groups[0]: mixes the upstream keys (instance_types)"],
  },
  {
    name: "missing group name",
    config: {
      ...seed(),
      eks_worker_groups: [{ override_instance_types: ["m5.large"], asg_min_size: 0, asg_max_size: 1 }],
    },
    expect: ["eks_worker_groups[0].name: is required"],
  },
  {
    name: "on-demand base capacity (mixed capacity unsupported)",
    config: { ...seed(), eks_worker_groups: [group({ on_demand_base_capacity: 1 })] },
    expect: ["eks_worker_groups[0].on_demand_base_capacity: 1 is not allowed"],
  },
  {
    name: "spot pools > 0",
    config: { ...seed(), eks_worker_groups: [group({ spot_instance_pools: 2 })] },
    expect: ["eks_worker_groups[0].spot_instance_pools: 2 is not allowed"],
  },
  {
    name: "EC2 worker backend",
    config: { ...seed(), worker_backend: "ec2" },
    expect: ['worker_backend: "ec2" is not allowed; allowed: "eks"'],
  },
  {
    name: "EC2 backend key",
    config: { ...seed(), orb_max_instances: 5 },
    expect: ["orb_max_instances: is not supported: the EC2/ORB worker backend is not supported"],
  },
  {
    name: "unknown region with suggestion",
    config: { ...seed(), region: "eu-west-9" },
    expect: ['region: unknown region "eu-west-9"; did you mean "eu-west-1"'],
  },
  {
    name: "invalid CIDR",
    config: { ...seed(), vpc_cidr_block_public: ["10.0.192.0/24", "10.0.300.0/24", "10.0.194.0/24"] },
    expect: ['vpc_cidr_block_public[1]: "10.0.300.0/24" is not a valid IPv4 CIDR'],
  },
  {
    name: "CIDR with host bits",
    config: { ...seed(), vpc_cidr_block: "10.0.0.1/16" },
    expect: ['vpc_cidr_block: "10.0.0.1/16" is not a valid IPv4 CIDR'],
  },
  {
    name: "overlapping subnets",
    config: { ...seed(), vpc_cidr_block_public: ["10.0.0.0/24", "10.0.193.0/24", "10.0.194.0/24"] },
    expect: ['vpc_cidr_block_private[0]: "10.0.0.0/18" overlaps vpc_cidr_block_public[0] (10.0.0.0/24)'],
  },
  {
    name: "subnet outside the VPC",
    config: { ...seed(), vpc_cidr_block_public: ["10.1.192.0/24", "10.0.193.0/24", "10.0.194.0/24"] },
    expect: ['vpc_cidr_block_public[0]: "10.1.192.0/24" is outside the VPC range 10.0.0.0/16'],
  },
  {
    name: "unequal subnet lists",
    config: { ...seed(), vpc_cidr_block_public: ["10.0.192.0/24", "10.0.193.0/24"] },
    expect: ["vpc_cidr_block_private: lists 3 subnets but vpc_cidr_block_public lists 2"],
  },
  {
    name: "masks that do not fit",
    config: { ...seed(), vpc_cidr_block_public: 24, vpc_cidr_block_private: 17 },
    expect: ["vpc_cidr_block_private: 3 public /24 and 3 private /17 subnets do not fit in 10.0.0.0/16"],
  },
  {
    name: "mask larger than the VPC",
    config: {
      ...seed(),
      vpc_cidr_block: "10.0.0.0/20",
      vpc_cidr_block_public: 24,
      vpc_cidr_block_private: 18,
    },
    expect: ["vpc_cidr_block_private: /18 is larger than the VPC range 10.0.0.0/20"],
  },
  {
    name: "mixed subnet forms",
    config: { ...seed(), vpc_cidr_block_public: 24 },
    expect: ["vpc_cidr_block_private: must use the same form as vpc_cidr_block_public"],
  },
  {
    name: "more AZs than the region has",
    config: { ...seed(), region: "us-west-1" },
    expect: ["vpc_cidr_block_public: 3 availability zones requested but us-west-1 has 2"],
  },
  {
    name: "bad project name",
    config: { ...seed(), project_name: "My_Grid" },
    expect: ['project_name: "My_Grid" is not allowed'],
  },
  {
    name: "bad role ARN",
    config: { ...seed(), input_role: [{ rolearn: "arn:aws:iam::123:user/bob", username: "x", groups: [] }] },
    expect: ['input_role[0].rolearn: "arn:aws:iam::123:user/bob" is not an IAM role ARN'],
  },
  {
    name: "lambda memory request above limit (upstream defect 8)",
    config: { ...seed(), agent_configuration: { lambda: { minMemory: 4096, maxMemory: 3900 } } },
    expect: ["agent_configuration.lambda.minMemory: 4096 is greater than maxMemory (3900)"],
  },
  {
    name: "location and s3_source together",
    config: {
      ...seed(),
      agent_configuration: { lambda: { location: "s3://a-bucket/l.zip", s3_source: "s3://a-bucket/l.zip" } },
    },
    expect: ["agent_configuration.lambda.location: is given together with s3_source"],
  },
  {
    name: "priorities out of range",
    config: { ...seed(), task_queue_service: "PrioritySQS", task_queue_config: { priorities: 40 } },
    expect: ["task_queue_config"],
  },
  {
    name: "InfluxDB metrics requested",
    config: { ...seed(), metrics_are_enabled: 1 },
    expect: ["metrics_are_enabled: 1 is not allowed"],
  },
  {
    name: "heartbeat refresh not below expiry",
    config: { ...seed(), task_ttl_refresh_interval_sec: 30 },
    expect: ["task_ttl_refresh_interval_sec: 30 must be smaller than task_ttl_expiration_offset_sec (30)"],
  },
  {
    name: "public EKS endpoint without CIDRs",
    config: { ...seed(), eks_public_access: true },
    expect: ["eks_public_access_cidrs: [] is not allowed when eks_public_access is true"],
  },
  {
    name: "s3 backend without bucket",
    config: { ...seed(), backend: { type: "s3" } },
    expect: ["backend.bucket: "],
  },
  {
    name: "unknown backend type",
    config: { ...seed(), backend: { type: "gcs" } },
    expect: ['backend.type: "gcs" is not allowed'],
  },
  {
    name: "several problems at once, one line each",
    config: {
      ...seed(),
      region: "mars-1",
      max_htc_agents: 1,
      min_htc_agents: 2,
      eks_worker_groups: [group({ asg_min_size: 5 })],
    },
    expect: [
      "region: unknown region",
      "min_htc_agents: 2 is greater than max_htc_agents (1)",
      "eks_worker_groups[0].asg_min_size: 5 is greater than asg_max_size (3)",
    ],
  },
];

function hashTree(dir: string): string {
  const h = createHash("sha256");
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      const s = statSync(p);
      h.update(`${path.relative(dir, p)}\0${s.mtimeMs}\0`);
      if (s.isDirectory()) walk(p);
      else h.update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest("hex");
}

describe("bad-input corpus", () => {
  let work: string;
  let outdir: string;
  let before: string;

  beforeAll(() => {
    work = mkdtempSync(path.join(tmpdir(), "htc-corpus-"));
    outdir = path.join(work, "cdktf.out");
    // A real synth of the default config fills the output directory that every rejected run must leave alone.
    execFileSync(process.execPath, [path.join(root, "dist", "main.js")], {
      cwd: work,
      env: { ...process.env, CDKTF_OUTDIR: outdir, HTCGRID_CONFIG: "" },
      stdio: "pipe",
    });
    before = hashTree(outdir);
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("has at least 30 malformed configurations", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
  });

  it.each(CASES)("rejects: $name", ({ config, expect: expected }) => {
    const file = path.join(work, "grid_config.json");
    writeFileSync(file, typeof config === "string" ? config : JSON.stringify(config, null, 2));
    const run = spawnSync(process.execPath, [path.join(root, "dist", "main.js")], {
      cwd: work,
      env: { ...process.env, CDKTF_OUTDIR: outdir, HTCGRID_CONFIG: file },
      encoding: "utf8",
    });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("configuration rejected");
    for (const text of expected) expect(run.stderr).toContain(text);
    // One line per problem: every problem line is indented under the header.
    const lines = run.stderr.trim().split("\n").slice(1);
    expect(lines.every((l) => l.startsWith("  "))).toBe(true);
    expect(hashTree(outdir)).toBe(before);
  });
});

import { describe, expect, it } from "vitest";
import { ConfigError, parseGridConfig, parseGridConfigText } from "../../modules/config/load";
import { SEED_GRID_CONFIG } from "../../modules/config/seed";

const seed = () => structuredClone(SEED_GRID_CONFIG) as Record<string, unknown>;

function problems(value: unknown, env: Record<string, string> = {}): string[] {
  try {
    parseGridConfig(value, "test.json", env);
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
  return [];
}

describe("grid configuration", () => {
  it("accepts the workshop's example and keeps its values", () => {
    const c = parseGridConfig(seed(), "seed");
    expect(c.projectName).toBe("main");
    expect(c.clusterName).toBe("htc-main");
    expect(c.dataPlane.storage).toBe("REDIS");
    expect(c.agent.maxAgents).toBe(100);
    expect(c.controlPlane.stateTable.readCapacity).toBe(10);
    expect(
      c.computePlane.workerGroups.map((g) => [g.name, g.capacityType, g.minSize, g.maxSize, g.desiredSize]),
    ).toEqual([
      ["worker-small-spot", "SPOT", 0, 3, 1],
      ["worker-medium-spot", "SPOT", 0, 3, 0],
    ]);
    expect(c.network.publicSubnetCidrs).toEqual(["10.0.192.0/24", "10.0.193.0/24", "10.0.194.0/24"]);
    expect(c.network.privateSubnetCidrs).toEqual(["10.0.0.0/18", "10.0.64.0/18", "10.0.128.0/18"]);
    expect(c.agent.lambda).toMatchObject({
      cpuRequestMilli: 800,
      cpuLimitMilli: 900,
      memoryRequestMi: 1200,
      memoryLimitMi: 1900,
    });
  });

  it("normalizes the workshop and the upstream key sets of the same grid to the same model", () => {
    const workshop = {
      ...seed(),
      vpc_cidr_block_public: ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"],
      vpc_cidr_block_private: ["10.0.64.0/18", "10.0.128.0/18", "10.0.192.0/18"],
      agent_configuration: {
        lambda: {
          minCPU: "800",
          maxCPU: "900",
          minMemory: "1200",
          maxMemory: "1900",
          runtime: "provided",
          location: "s3://my-bucket/lambda.zip",
          lambda_handler_file_name: "mock_compute_engine",
          lambda_handler_function_name: "lambda_handler",
        },
      },
    };
    const upstream = {
      ...seed(),
      vpc_cidr_block_public: 24,
      vpc_cidr_block_private: 18,
      eks_worker_groups: [
        {
          node_group_name: "worker-small-spot",
          instance_types: ["m5.xlarge", "m4.xlarge", "m5d.xlarge", "m5a.xlarge"],
          capacity_type: "SPOT",
          min_size: 0,
          max_size: 3,
          desired_size: 1,
        },
        {
          node_group_name: "worker-medium-spot",
          instance_types: ["m5.2xlarge", "m5d.2xlarge", "m5a.2xlarge", "m4.2xlarge"],
          capacity_type: "SPOT",
          min_size: 0,
          max_size: 3,
          desired_size: 0,
        },
      ],
      agent_configuration: {
        lambda: {
          minCPU: 800,
          maxCPU: 900,
          minMemory: 1200,
          maxMemory: 1900,
          runtime: "provided",
          s3_source: "s3://my-bucket/lambda.zip",
          lambda_handler_file_name: "mock_compute_engine.lambda_handler",
        },
      },
    };
    const a = parseGridConfig(workshop, "workshop");
    const b = parseGridConfig(upstream, "upstream");
    expect(b).toEqual(a);
    expect(a.agent.lambda.handler).toBe("mock_compute_engine.lambda_handler");
    expect(a.agent.lambda.s3Source).toBe("s3://my-bucket/lambda.zip");
  });

  it("carves netmask layouts public first, then private, aligned like Terraform's cidrsubnets", () => {
    const c = parseGridConfig(
      { ...seed(), vpc_cidr_block_public: 24, vpc_cidr_block_private: 20, availability_zone_count: 2 },
      "t",
    );
    expect(c.network.azCount).toBe(2);
    expect(c.network.publicSubnetCidrs).toEqual(["10.0.0.0/24", "10.0.1.0/24"]);
    expect(c.network.privateSubnetCidrs).toEqual(["10.0.16.0/20", "10.0.32.0/20"]);
  });

  it("uses up to three availability zones by default, fewer where the region has fewer", () => {
    const c = parseGridConfig(
      { ...seed(), region: "us-west-1", vpc_cidr_block_public: 24, vpc_cidr_block_private: 18 },
      "t",
    );
    expect(c.network.azCount).toBe(2);
  });

  it("turns PrioritySQS with upstream's single-quoted config into that many priorities", () => {
    const c = parseGridConfig(
      { ...seed(), task_queue_service: "PrioritySQS", task_queue_config: "{'priorities':3}" },
      "t",
    );
    expect(c.controlPlane.taskQueue.priorities).toBe(3);
    expect(JSON.parse(c.controlPlane.taskQueue.rawConfig)).toEqual({ priorities: 3 });
  });

  it("keeps one priority for plain SQS whatever task_queue_config says", () => {
    const c = parseGridConfig({ ...seed(), task_queue_service: "SQS" }, "t");
    expect(c.controlPlane.taskQueue.priorities).toBe(1);
  });

  it("sets the redrive limit above the TTL checker's retries so retried tasks never reach the DLQ", () => {
    for (const retries of [0, 5, 20]) {
      const c = parseGridConfig({ ...seed(), task_max_retries: retries }, "t");
      expect(c.controlPlane.taskQueue.maxReceiveCount).toBeGreaterThan(retries + 1);
    }
  });

  it("maps on_demand_percentage_above_base_capacity 100 to an on-demand group", () => {
    const groups = [
      {
        name: "od",
        override_instance_types: ["m5.large"],
        asg_min_size: 0,
        asg_max_size: 2,
        on_demand_percentage_above_base_capacity: 100,
      },
    ];
    const c = parseGridConfig({ ...seed(), eks_worker_groups: groups }, "t");
    expect(c.computePlane.workerGroups[0].capacityType).toBe("ON_DEMAND");
  });

  it("selects the state backend from the environment without a config change", () => {
    const s3 = parseGridConfig(seed(), "t", {
      HTCGRID_BACKEND: "s3",
      HTCGRID_STATE_BUCKET: "my-state-bucket",
    });
    expect(s3.backend).toEqual({
      type: "s3",
      bucket: "my-state-bucket",
      keyPrefix: "htc-grid/main",
      region: "eu-west-1",
      kmsKeyId: undefined,
      dynamodbTable: undefined,
    });
    const cloud = parseGridConfig({ ...seed(), backend: { type: "cloud", organization: "acme" } }, "t");
    expect(cloud.backend).toEqual({
      type: "cloud",
      organization: "acme",
      hostname: "app.terraform.io",
      workspacePrefix: "htc-main-",
    });
  });

  it("reports each problem on its own line with the JSON path and the bad value", () => {
    const lines = problems({ ...seed(), max_htc_agents: -5, min_htc_agents: "1" });
    expect(lines).toContain("max_htc_agents: -5 is too small; minimum 1");
    expect(lines).toContain('min_htc_agents: "1" has the wrong type; expected number');
  });

  it("reports JSON syntax errors with line and column", () => {
    expect(() => parseGridConfigText('{\n  "region": "eu-west-1",\n}', "g.json")).toThrow(
      /not valid JSON at line 3, column 1/,
    );
  });
});

describe("the built-in default", () => {
  it("equals the workshop's example except for its two account-specific values", async () => {
    const { readFileSync } = await import("node:fs");
    const verbatim = JSON.parse(readFileSync(`${__dirname}/../fixtures/seed-grid-config.json`, "utf8"));
    const fromSeed = parseGridConfig(verbatim, "seed file");
    const builtIn = parseGridConfig(SEED_GRID_CONFIG, "built-in");
    expect(fromSeed.agent.lambda.s3Source).toBe("s3://main-lambda-unit-htc-grid-2b8838c8eecc/lambda.zip");
    expect(builtIn.agent.lambda.s3Source).toBeUndefined();
    expect(fromSeed.computePlane.inputRoles[0].roleArn).toBe("arn:aws:iam::021436251583:role/Admin");
    expect(builtIn.computePlane.inputRoles[0].roleArn).toBe("arn:aws:iam::{{account_id}}:role/Admin");
    const strip = (c: typeof builtIn) => ({
      ...c,
      agent: { ...c.agent, lambda: { ...c.agent.lambda, s3Source: undefined } },
      computePlane: { ...c.computePlane, inputRoles: [] },
    });
    expect(strip(builtIn)).toEqual(strip(fromSeed));
  });
});

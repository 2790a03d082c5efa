// Table-driven corpus of malformed grid configurations run through the real entry point (`node dist/main.js`),
// grouped by class of mistake: each must exit non-zero, name the JSON path of the problem, print no stack trace,
// and leave the output directory byte-identical. Runs are spawned two at a time (the machine has two cores).
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
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
/** The seed's worker settings with overrides. */
const lambda = (over: Record<string, unknown>) => ({
  agent_configuration: { lambda: { ...SEED_GRID_CONFIG.agent_configuration.lambda, ...over } },
});
const role = (rolearn: string, over: Record<string, unknown> = {}) => ({
  rolearn,
  username: "admin",
  groups: ["system:masters"],
  ...over,
});

interface Case {
  readonly name: string;
  /** The config: an object (serialized) or raw text. */
  readonly config: Record<string, unknown> | string;
  /** Text each expected problem line must contain (the JSON path, usually with more). */
  readonly expect: string[];
  /** Extra environment (backend overrides). */
  readonly env?: Record<string, string>;
}

const CLASSES: Record<string, Case[]> = {
  "file and JSON text": [
    { name: "not JSON", config: "{ region: eu-west-1 }", expect: ["not valid JSON at line 1"] },
    { name: "trailing comma", config: '{"region": "eu-west-1",}', expect: ["not valid JSON"] },
    {
      name: "JSON array instead of object",
      config: "[]",
      expect: ["(root): [] has the wrong type; expected object"],
    },
    { name: "null document", config: "null", expect: ["(root): null has the wrong type; expected object"] },
    { name: "empty file", config: "  \n", expect: ["(root): the file is empty"] },
    {
      name: "a byte-order mark does not hide the real error",
      config: '\ufeff{\n  "region": "eu-west-9"\n}',
      expect: ['region: unknown region "eu-west-9"'],
    },
    {
      name: "a key given twice",
      config: '{\n  "region": "eu-west-1",\n  "project_name": "a",\n  "region": "eu-west-2"\n}',
      expect: ["region: is given twice (lines 2 and 4); JSON keeps only the last one"],
    },
    {
      name: "a nested key given twice",
      config: JSON.stringify(
        { ...seed(), agent_configuration: { lambda: { runtime: "provided" } } },
        null,
        2,
      ).replace('"runtime": "provided"', '"runtime": "provided",\n      "runtime": "java17"'),
      expect: ["agent_configuration.lambda.runtime: is given twice (lines"],
    },
    {
      name: "a directory instead of a file",
      config: { directory: true },
      expect: ["is a directory, not a configuration file"],
    },
  ],
  "unknown, unsupported and mistyped keys": [
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
      name: "InfluxDB metrics requested",
      config: { ...seed(), metrics_are_enabled: 1 },
      expect: ["metrics_are_enabled: 1 is not allowed"],
    },
    {
      name: "upstream's malformed storage default",
      config: { ...seed(), grid_storage_service: "S3 htc-data-bucket-1" },
      expect: ["grid_storage_service:", "malformed default"],
    },
    {
      name: "unknown storage mode",
      config: { ...seed(), grid_storage_service: "EFS" },
      expect: ['grid_storage_service: "EFS" is not allowed'],
    },
  ],
  "numbers outside what the construct, chart or AWS accepts": [
    {
      name: "negative agents",
      config: { ...seed(), min_htc_agents: -1 },
      expect: ["min_htc_agents: -1 is too small; minimum 0"],
    },
    {
      name: "no agents at all (KEDA needs a maximum of at least one)",
      config: { ...seed(), min_htc_agents: 0, max_htc_agents: 0 },
      expect: ["max_htc_agents: 0 is too small; minimum 1"],
    },
    {
      name: "min agents above max agents",
      config: { ...seed(), min_htc_agents: 10, max_htc_agents: 5 },
      expect: ["min_htc_agents: 10 is greater than max_htc_agents (5)"],
    },
    {
      name: "zero termination grace",
      config: { ...seed(), graceful_termination_delay: 0 },
      expect: ["graceful_termination_delay: 0 is too small; minimum 1"],
    },
    {
      name: "heartbeat refresh not below expiry",
      config: { ...seed(), task_ttl_refresh_interval_sec: 30 },
      expect: ["task_ttl_refresh_interval_sec: 30 must be smaller than task_ttl_expiration_offset_sec (30)"],
    },
    {
      name: "lambda memory request above limit (upstream defect 8)",
      config: { ...seed(), ...lambda({ minMemory: 4096, maxMemory: 3900 }) },
      expect: ["agent_configuration.lambda.minMemory: 4096 is greater than maxMemory (3900)"],
    },
    {
      name: "fractional CPU millicores",
      config: { ...seed(), agent_configuration: { agent: { minCPU: 0.5 } } },
      expect: ["agent_configuration.agent.minCPU: 0.5 is not allowed; allowed: a positive whole number"],
    },
    {
      name: "priorities out of range",
      config: { ...seed(), task_queue_service: "PrioritySQS", task_queue_config: { priorities: 40 } },
      expect: ["task_queue_config"],
    },
    {
      name: "period other than 1 or 60",
      config: { ...seed(), period_metrics: "30" },
      expect: ['period_metrics: "30" is not allowed; allowed: 1 (high resolution) or 60'],
    },
  ],
  "node groups and instance types": [
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
      name: "negative capacity",
      config: { ...seed(), eks_worker_groups: [group({ asg_min_size: -1 })] },
      expect: ["eks_worker_groups[0].asg_min_size: -1 is negative"],
    },
    {
      name: "empty instance types",
      config: { ...seed(), eks_worker_groups: [group({ override_instance_types: [] })] },
      expect: ["eks_worker_groups[0].override_instance_types: [] is not allowed"],
    },
    {
      name: "malformed instance type",
      config: { ...seed(), eks_worker_groups: [group({ override_instance_types: ["m5 xlarge"] })] },
      expect: ["eks_worker_groups[0].override_instance_types[0]:"],
    },
    {
      name: "Graviton type on the x86_64 AMI",
      config: {
        ...seed(),
        eks_worker_groups: [group({ override_instance_types: ["m5.large", "c7g.large"] })],
      },
      expect: ['eks_worker_groups[0].override_instance_types[1]: "c7g.large" is a Graviton (arm64) type'],
    },
    {
      name: "GPU type without an accelerated AMI",
      config: {
        ...seed(),
        eks_worker_groups: [
          { node_group_name: "gpu", instance_types: ["p4d.24xlarge"], min_size: 0, max_size: 1 },
        ],
      },
      expect: ['eks_worker_groups[0].instance_types[0]: "p4d.24xlarge" is an accelerated'],
    },
    {
      name: "instance type listed twice",
      config: {
        ...seed(),
        eks_worker_groups: [group({ override_instance_types: ["m5.large", "m5.large"] })],
      },
      expect: ['eks_worker_groups[0].override_instance_types[1]: "m5.large" is already listed'],
    },
    {
      name: "core group on an arm64 type",
      config: { ...seed(), core_node_group: { instance_types: ["t4g.medium"] } },
      expect: ['core_node_group.instance_types[0]: "t4g.medium" is a Graviton (arm64) type'],
    },
    {
      name: "core group sizes inverted",
      config: { ...seed(), core_node_group: { min_size: 5, max_size: 3 } },
      expect: ["core_node_group.min_size: 5 is greater than max_size (3)"],
    },
    {
      name: "core group desired outside its range",
      config: { ...seed(), core_node_group: { min_size: 1, max_size: 2, desired_size: 3 } },
      expect: ["core_node_group.desired_size: 3 is outside [min_size 1, max_size 2]"],
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
  ],
  "Kubernetes version and the add-on pins that follow it": [
    {
      name: "a version EKS no longer offers",
      config: { ...seed(), kubernetes_version: "1.29" },
      expect: ['kubernetes_version: "1.29" is not a Kubernetes version EKS offers'],
    },
    {
      name: "a version without a pinned autoscaler and no override",
      config: { ...seed(), kubernetes_version: "1.32" },
      expect: ['kubernetes_version: "1.32" has no pinned cluster-autoscaler image', "k8s_ca_version"],
    },
    {
      name: "autoscaler override of another minor",
      config: { ...seed(), k8s_ca_version: "v1.34.1" },
      expect: ['k8s_ca_version: "v1.34.1" is for Kubernetes 1.34 but kubernetes_version is "1.35"'],
    },
    {
      name: "malformed autoscaler override",
      config: { ...seed(), kubernetes_version: "1.34", k8s_ca_version: "latest" },
      expect: ['k8s_ca_version: "latest" is not a cluster-autoscaler image tag'],
    },
    {
      name: "malformed KEDA chart version",
      config: { ...seed(), k8s_keda_version: "v2.20" },
      expect: ['k8s_keda_version: "v2.20" is not a KEDA chart version'],
    },
  ],
  "ElastiCache engine and node type": [
    {
      name: "a Valkey version with the Redis engine",
      config: { ...seed(), redis_engine_version: "8.1" },
      expect: ['redis_engine_version: "8.1" is not a redis version', 'set redis_engine "valkey"'],
    },
    {
      name: "Redis 6 (no required TLS mode)",
      config: { ...seed(), redis_engine_version: "6.2" },
      expect: ['redis_engine_version: "6.2"', "7.0.5 or later"],
    },
    {
      name: "a Valkey version ElastiCache does not have",
      config: { ...seed(), redis_engine: "valkey", redis_engine_version: "7.0" },
      expect: ['redis_engine_version: "7.0" is not a valkey version'],
    },
    {
      name: "an EC2 type as node type",
      config: { ...seed(), redis_node_type: "r7g.large" },
      expect: ['redis_node_type: "r7g.large" is not an ElastiCache node type', 'start with "cache."'],
    },
    {
      name: "a data-tiering node type",
      config: { ...seed(), redis_node_type: "cache.r6gd.xlarge" },
      expect: ['redis_node_type: "cache.r6gd.xlarge" is not an ElastiCache node type this grid can use'],
    },
    {
      name: "Multi-AZ without a replica",
      config: { ...seed(), redis_multi_az: true },
      expect: ["redis_multi_az: true needs redis_replicas >= 1"],
    },
    {
      name: "a negative Redis key expiry",
      config: { ...seed(), redis_data_expiration_hours: -1 },
      expect: ["redis_data_expiration_hours: -1 is too small; minimum 0"],
    },
    {
      name: "a Redis key expiry beyond a year",
      config: { ...seed(), redis_data_expiration_hours: 10000 },
      expect: ["redis_data_expiration_hours: 10000 is too large; maximum 8760"],
    },
    {
      name: "a Redis key expiry in fractional hours",
      config: { ...seed(), redis_data_expiration_hours: 1.5 },
      expect: ["redis_data_expiration_hours: 1.5 has the wrong type; expected int"],
    },
  ],
  "names AWS refuses": [
    {
      name: "state table with a space",
      config: { ...seed(), ddb_state_table: "tasks table" },
      expect: ['ddb_state_table: "tasks table" is not allowed', "dynamodbTable"],
    },
    {
      name: "dead-letter queue with a dot",
      config: { ...seed(), sqs_dlq: "dead.letters" },
      expect: ['sqs_dlq: "dead.letters" is not allowed'],
    },
    {
      name: "queue name too long for its priority suffix",
      config: {
        ...seed(),
        sqs_queue: "q".repeat(74),
        task_queue_service: "PrioritySQS",
        task_queue_config: { priorities: 12 },
      },
      expect: ["sqs_queue:", "characters); SQS allows 80"],
    },
    {
      name: "Lambda name with a dot",
      config: { ...seed(), lambda_name_get_results: "get.results" },
      expect: ['lambda_name_get_results: "get.results" is not allowed'],
    },
    {
      name: "error log group with a star",
      config: { ...seed(), error_log_group: "errors*" },
      expect: ['error_log_group: "errors*" is not allowed'],
    },
    {
      name: "error log stream with a colon",
      config: { ...seed(), error_logging_stream: "lambda:errors" },
      expect: ['error_logging_stream: "lambda:errors" is not allowed'],
    },
    {
      name: "data bucket with capitals and underscores",
      config: { ...seed(), s3_bucket: "Task_Data" },
      expect: ['s3_bucket: "Task_Data" is not allowed', "lowercase letters, digits and hyphens"],
    },
    {
      name: "data bucket too long once account and region are added",
      config: { ...seed(), s3_bucket: "b".repeat(40) },
      expect: ["s3_bucket:", "S3 allows 63"],
    },
    {
      name: "data bucket with a prefix S3 reserves",
      config: { ...seed(), s3_bucket: "xn--data" },
      expect: ['s3_bucket: "xn--data" is not allowed', "which S3 reserves"],
    },
    {
      name: "metrics namespace reserved for AWS",
      config: { ...seed(), namespace_metrics: "AWS/HTC" },
      expect: ['namespace_metrics: "AWS/HTC" is not allowed; namespaces starting with "AWS/"'],
    },
    {
      name: "metric name with non-ASCII characters",
      config: { ...seed(), metrics_name: "tâches" },
      expect: ['metrics_name: "tâches" is not a CloudWatch metric name'],
    },
    {
      name: "bad project name",
      config: { ...seed(), project_name: "My_Grid" },
      expect: ['project_name: "My_Grid" is not allowed'],
    },
    {
      name: "bad cluster name",
      config: { ...seed(), cluster_name: "HTC" },
      expect: ['cluster_name: "HTC" is not allowed'],
    },
  ],
  "two resources with one physical name": [
    {
      name: "two Lambdas with one name",
      config: { ...seed(), lambda_name_ttl_checker: "cancel_tasks" },
      expect: [
        'lambda_name_ttl_checker: "cancel_tasks" gives the same function name as lambda_name_cancel_tasks',
      ],
    },
    {
      name: "a queue that is its own dead-letter queue",
      config: { ...seed(), sqs_dlq: "htc_task_queue" },
      expect: ['sqs_dlq: "htc_task_queue" gives the same queue name as sqs_queue'],
    },
    {
      name: "error log group on a Lambda's log group",
      config: { ...seed(), error_log_group: "/aws/lambda/get_results" },
      expect: [
        'error_log_group: "/aws/lambda/get_results" gives the log group of one of the grid\'s Lambdas',
      ],
    },
    {
      name: "duplicate node-group names",
      config: { ...seed(), eks_worker_groups: [group({}), group({})] },
      expect: ['eks_worker_groups[1].name: "g" duplicates eks_worker_groups[0]'],
    },
    {
      name: "a worker group named like the core group",
      config: { ...seed(), eks_worker_groups: [group({ name: "Core" })] },
      expect: ['eks_worker_groups[0].name: "Core" is reserved for the grid\'s core node group'],
    },
    {
      name: "one role listed twice",
      config: {
        ...seed(),
        input_role: [role("arn:aws:iam::111122223333:role/A"), role("arn:aws:iam::111122223333:role/A")],
      },
      expect: [
        'input_role[1].rolearn: "arn:aws:iam::111122223333:role/A" is already listed at input_role[0]',
      ],
    },
  ],
  "Kubernetes names and namespaces": [
    {
      name: "release name with an underscore",
      config: { ...seed(), htc_agent_name: "htc_agent" },
      expect: ['htc_agent_name: "htc_agent" is not allowed as a Helm release name'],
    },
    {
      name: "release name longer than Helm allows",
      config: { ...seed(), htc_agent_name: `a${"b".repeat(53)}` },
      expect: ["htc_agent_name:", "up to 53"],
    },
    {
      name: "upper-case namespace",
      config: { ...seed(), htc_agent_namespace: "HTC" },
      expect: ['htc_agent_namespace: "HTC" is not a Kubernetes namespace name'],
    },
    {
      name: "KEDA's namespace",
      config: { ...seed(), htc_agent_namespace: "keda" },
      expect: ['htc_agent_namespace: "keda" is KEDA\'s (created by the grid) namespace'],
    },
    {
      name: "the monitoring namespace with monitoring on",
      config: { ...seed(), htc_agent_namespace: "monitoring", enable_monitoring: true },
      expect: ['htc_agent_namespace: "monitoring" is the monitoring add-on\'s'],
    },
  ],
  "cluster access for IAM roles": [
    {
      name: "not a role ARN",
      config: { ...seed(), input_role: [role("arn:aws:iam::123:user/bob")] },
      expect: ['input_role[0].rolearn: "arn:aws:iam::123:user/bob" is not an IAM role ARN'],
    },
    {
      name: "a reserved group EKS refuses",
      config: {
        ...seed(),
        input_role: [role("arn:aws:iam::111122223333:role/A", { groups: ["system:nodes"] })],
      },
      expect: ['input_role[0].groups[0]: "system:nodes" is a reserved Kubernetes group'],
    },
    {
      name: "a user name with a reserved prefix",
      config: { ...seed(), input_role: [role("arn:aws:iam::111122223333:role/A", { username: "eks:ops" })] },
      expect: ['input_role[0].username: "eks:ops" starts with "eks:"'],
    },
  ],
  "ARNs of another partition": [
    {
      name: "a China region with a commercial role",
      config: { ...seed(), region: "cn-northwest-1" },
      expect: [
        'input_role[0].rolearn: "arn:aws:iam::{{account_id}}:role/Admin" is in partition "aws" but region cn-northwest-1 is in "aws-cn"',
      ],
    },
    {
      name: "a GovCloud region with a China key administrator",
      config: {
        ...seed(),
        region: "us-gov-west-1",
        input_role: [],
        kms_key_admin_roles: ["arn:aws-cn:iam::111122223333:role/KeyAdmin"],
      },
      expect: [
        'kms_key_admin_roles[0]: "arn:aws-cn:iam::111122223333:role/KeyAdmin" is in partition "aws-cn"',
      ],
    },
    {
      name: "a worker zip key of another partition",
      config: {
        ...seed(),
        ...lambda({
          s3_source: "s3://a-bucket/lambda.zip",
          s3_source_kms_key_arn:
            "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/2b9d6f4a-1c7e-4b8a-9f3d-6e5c4a3b2d1f",
        }),
      },
      expect: ["agent_configuration.lambda.s3_source_kms_key_arn:", 'is in partition "aws-us-gov"'],
    },
  ],
  "address space AWS refuses": [
    {
      name: "link-local VPC range",
      config: {
        ...seed(),
        vpc_cidr_block: "169.254.0.0/16",
        vpc_cidr_block_public: 24,
        vpc_cidr_block_private: 18,
      },
      expect: ['vpc_cidr_block: "169.254.0.0/16" overlaps link-local space'],
    },
    {
      name: "multicast VPC range",
      config: {
        ...seed(),
        vpc_cidr_block: "230.1.0.0/16",
        vpc_cidr_block_public: 24,
        vpc_cidr_block_private: 18,
      },
      expect: ['vpc_cidr_block: "230.1.0.0/16" overlaps multicast space'],
    },
    {
      name: "loopback VPC range",
      config: {
        ...seed(),
        vpc_cidr_block: "127.10.0.0/16",
        vpc_cidr_block_public: 24,
        vpc_cidr_block_private: 18,
      },
      expect: ['vpc_cidr_block: "127.10.0.0/16" overlaps loopback space'],
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
      name: "a private range for the public EKS endpoint",
      config: { ...seed(), eks_public_access: true, eks_public_access_cidrs: ["192.168.1.0/24"] },
      expect: ['eks_public_access_cidrs[0]: "192.168.1.0/24" is private (RFC 1918) address space'],
    },
    {
      name: "the same CIDR twice",
      config: { ...seed(), allowed_access_cidr_blocks: ["172.16.0.0/16", "172.16.0.0/16"] },
      expect: [
        'allowed_access_cidr_blocks[1]: "172.16.0.0/16" is already listed at allowed_access_cidr_blocks[0]',
      ],
    },
    {
      name: "the VPC range as an extra allowed range",
      config: { ...seed(), allowed_access_cidr_blocks: ["10.0.0.0/16"] },
      expect: ['allowed_access_cidr_blocks[0]: "10.0.0.0/16" is the VPC range'],
    },
    {
      name: "an IPv6 range",
      config: { ...seed(), enable_monitoring: true, grafana_allowed_cidrs: ["2001:db8::/32"] },
      expect: ['grafana_allowed_cidrs[0]: "2001:db8::/32" is an IPv6 range'],
    },
  ],
  "opening the grid to the internet without acknowledgement": [
    {
      name: "public EKS endpoint for everyone",
      config: { ...seed(), eks_public_access: true, eks_public_access_cidrs: ["0.0.0.0/0"] },
      expect: [
        'eks_public_access_cidrs[0]: "0.0.0.0/0" opens the Kubernetes API endpoint to the whole internet',
        'add "eks_public_access_cidrs" to allow_public_access',
      ],
    },
    {
      name: "Grafana for half the internet twice over",
      config: { ...seed(), enable_monitoring: true, grafana_allowed_cidrs: ["0.0.0.0/1", "128.0.0.0/1"] },
      expect: [
        'grafana_allowed_cidrs[0]: "0.0.0.0/1" opens Grafana',
        'grafana_allowed_cidrs[1]: "128.0.0.0/1" opens Grafana',
      ],
    },
    {
      name: "Redis and the endpoints for everyone",
      config: { ...seed(), allowed_access_cidr_blocks: ["0.0.0.0/0"] },
      expect: [
        'allowed_access_cidr_blocks[0]: "0.0.0.0/0" opens Redis and the VPC endpoints to the whole internet',
      ],
    },
    {
      name: "::/0",
      config: { ...seed(), allowed_access_cidr_blocks: ["::/0"] },
      expect: ['allowed_access_cidr_blocks[0]: "::/0" is an IPv6 range', "whole IPv6 internet"],
    },
    {
      name: "an acknowledgement that opens nothing",
      config: { ...seed(), allow_public_access: ["grafana_allowed_cidrs"] },
      expect: ['allow_public_access[0]: "grafana_allowed_cidrs" acknowledges nothing'],
    },
    {
      name: "the deployer placeholder npm run generate writes",
      config: { ...seed(), eks_public_access: true, eks_public_access_cidrs: ["<your-public-ip>/32"] },
      expect: [
        'eks_public_access_cidrs[0]: "<your-public-ip>/32" is a placeholder',
        "--deployer-cidr",
        "deployer_inside_vpc true",
      ],
    },
    {
      name: "public endpoint without CIDRs",
      config: { ...seed(), eks_public_access: true },
      expect: ["eks_public_access_cidrs: [] is not allowed when eks_public_access is true"],
    },
  ],
  tags: [
    {
      name: "more tags than AWS allows with the grid's own",
      config: { ...seed(), tags: Object.fromEntries(Array.from({ length: 46 }, (_, i) => [`k${i}`, "v"])) },
      expect: ["tags: 46 tags is too many", "allowed: at most 45"],
    },
    {
      name: "a tag key over 128 characters",
      config: { ...seed(), tags: { ["k".repeat(129)]: "v" } },
      expect: ["the key has 129 characters; allowed: 1 to 128"],
    },
    {
      name: "a tag value over 256 characters",
      config: { ...seed(), tags: { team: "v".repeat(257) } },
      expect: ["tags.team:", "has 257 characters; allowed: at most 256"],
    },
    {
      name: "a key AWS reserves",
      config: { ...seed(), tags: { "AWS:team": "quant" } },
      expect: ['tags.AWS:team: tag keys starting with "aws:" are reserved by AWS'],
    },
    {
      name: "a key the grid sets itself",
      config: { ...seed(), tags: { "managed-by": "terraform" } },
      expect: ['tags.managed-by: "managed-by" is set by the grid itself'],
    },
    {
      name: "characters tagging services refuse",
      config: { ...seed(), tags: { team: "quant; rm -rf" } },
      expect: ['tags.team: "quant; rm -rf" is not allowed; allowed: letters, digits, spaces'],
    },
  ],
  "schedules, stage names and JSON-in-string settings": [
    {
      name: "plural unit for one",
      config: { ...seed(), metrics_event_rule_time: "rate(1 minutes)" },
      expect: ['metrics_event_rule_time: "rate(1 minutes)" is not an EventBridge schedule', "rate(1 minute)"],
    },
    {
      name: "cron with five fields",
      config: { ...seed(), metrics_event_rule_time: "cron(* * * * *)" },
      expect: ["metrics_event_rule_time:", "a cron expression has 6 fields"],
    },
    {
      name: "cron without a question mark",
      config: { ...seed(), metrics_event_rule_time: "cron(0 * * * * *)" },
      expect: ["metrics_event_rule_time:", 'must be "?"'],
    },
    {
      name: "a schedule in words",
      config: { ...seed(), metrics_event_rule_time: "every minute" },
      expect: ['metrics_event_rule_time: "every minute" is not an EventBridge schedule'],
    },
    {
      name: "a stage name with a slash",
      config: { ...seed(), api_gateway_version: "prod/v1" },
      expect: ['api_gateway_version: "prod/v1" is not an API Gateway stage name'],
    },
    {
      name: "state table SDK config that is not an object",
      config: { ...seed(), state_table_config: "[10]" },
      expect: ['state_table_config: "[10]" is not a JSON object'],
    },
    {
      name: "task queue config that is not JSON",
      config: { ...seed(), task_queue_config: "priorities=3" },
      expect: ['task_queue_config: "priorities=3" is not a JSON object'],
    },
  ],
  "images and worker runtime": [
    {
      name: "a runtime with no stock worker image",
      config: { ...seed(), ...lambda({ runtime: "python3.12" }) },
      expect: ['agent_configuration.lambda.runtime: "python3.12" has no stock worker image', '"java21"'],
    },
    {
      name: "a runtime that is no image tag",
      config: { ...seed(), ...lambda({ image: "my/worker", runtime: "python 3" }) },
      expect: ['agent_configuration.lambda.runtime: "python 3" is not allowed'],
    },
    {
      name: "an upper-case repository",
      config: { ...seed(), agent_configuration: { agent: { image: "Team/Agent" } } },
      expect: ['agent_configuration.agent.image: "Team/Agent" is not an image repository'],
    },
    {
      name: "an image tag with a colon",
      config: { ...seed(), agent_configuration: { test: { tag: "v1:latest" } } },
      expect: ['agent_configuration.test.tag: "v1:latest" is not an image tag'],
    },
    {
      name: "a registry given as a URL",
      config: { ...seed(), aws_htc_ecr: "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com" },
      expect: [
        'aws_htc_ecr: "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com" is not a registry prefix',
      ],
    },
    {
      name: "a function name with a slash",
      config: { ...seed(), ...lambda({ function_name: "a/b" }) },
      expect: ['agent_configuration.lambda.function_name: "a/b" is not allowed'],
    },
    {
      name: "location and s3_source together",
      config: {
        ...seed(),
        ...lambda({ location: "s3://a-bucket/l.zip", s3_source: "s3://a-bucket/l.zip" }),
      },
      expect: ["agent_configuration.lambda.location: is given together with s3_source"],
    },
  ],
  "region and state backend": [
    {
      name: "unknown region with suggestion",
      config: { ...seed(), region: "eu-west-9" },
      expect: ['region: unknown region "eu-west-9"; did you mean "eu-west-1"'],
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
      name: "a state key prefix with a leading slash",
      config: { ...seed(), backend: { type: "s3", bucket: "my-state", key_prefix: "/grids/main" } },
      expect: ['backend.key_prefix: "/grids/main" is not allowed as an S3 backend key prefix'],
    },
    {
      name: "a workspace prefix with a dot",
      config: { ...seed(), backend: { type: "cloud", organization: "acme", workspace_prefix: "htc.main-" } },
      expect: ['backend.workspace_prefix: "htc.main-" is not allowed'],
    },
    {
      name: "a bad backend in the environment, named by its variable",
      config: seed(),
      env: { HTCGRID_BACKEND: "s3", HTCGRID_STATE_BUCKET: "state", HTCGRID_STATE_KMS_KEY: "my-key" },
      expect: ['HTCGRID_STATE_KMS_KEY: "my-key" is not a KMS key reference'],
    },
    {
      name: "an unknown backend type in the environment",
      config: seed(),
      env: { HTCGRID_BACKEND: "consul" },
      expect: ['HTCGRID_BACKEND: "consul" is not allowed'],
    },
  ],
  "several problems at once": [
    {
      name: "one line each",
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
  ],
};

const CASES = Object.entries(CLASSES).flatMap(([klass, cases]) => cases.map((c) => ({ klass, ...c })));

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

/** At most `limit` entry-point processes at a time, across the concurrently running cases. */
function limiter(limit: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
const spawnLimit = limiter(2);

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

  it("covers every class with configurations of its own", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(100);
    for (const [klass, cases] of Object.entries(CLASSES)) expect(cases.length, klass).toBeGreaterThan(0);
  });

  it("answers an output directory that cannot be written with one line", () => {
    const blocker = path.join(work, "not-a-directory");
    writeFileSync(blocker, "");
    const run = spawnSync(process.execPath, [path.join(root, "dist", "main.js")], {
      cwd: work,
      env: { ...process.env, CDKTF_OUTDIR: path.join(blocker, "out"), HTCGRID_CONFIG: "" },
      encoding: "utf8",
    });
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toMatch(/^htc-grid: cannot write the synthesized stacks: ENOTDIR/);
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });

  it.concurrent.each(CASES)("rejects ($klass): $name", async ({ name, config, expect: expected, env }) => {
    const file = path.join(work, `${createHash("sha1").update(name).digest("hex")}.json`);
    if (typeof config !== "string" && config.directory === true) mkdirSync(file);
    else writeFileSync(file, typeof config === "string" ? config : JSON.stringify(config, null, 2));
    const run = await spawnLimit(
      () =>
        new Promise<{ status: number | null; stderr: string }>((resolve) => {
          const child = execFile(
            process.execPath,
            [path.join(root, "dist", "main.js")],
            { cwd: work, env: { ...process.env, CDKTF_OUTDIR: outdir, HTCGRID_CONFIG: file, ...env } },
            (_error, _stdout, stderr) => resolve({ status: child.exitCode, stderr }),
          );
        }),
    );
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("configuration rejected");
    for (const text of expected) expect(run.stderr).toContain(text);
    // One line per problem: every problem line is indented under the header; no stack trace.
    const lines = run.stderr.trim().split("\n").slice(1);
    expect(lines.every((l) => l.startsWith("  "))).toBe(true);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(hashTree(outdir)).toBe(before);
  });
});

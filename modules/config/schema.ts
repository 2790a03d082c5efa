// The grid configuration file's schema: every accepted key, its type, default and meaning. The README's config
// reference and generated/grid_config.schema.json are both generated from this one definition.
import { z } from "zod";

const cidrString = z.string().describe("IPv4 CIDR, e.g. 10.0.0.0/16");
/** Upstream writes some numbers as strings ("800"); both are accepted. */
const numberLike = z.union([z.number(), z.string().regex(/^-?\d+(\.\d+)?$/, "a number or a numeric string")]);
const flag01 = z.union([z.literal(0), z.literal(1), z.literal("0"), z.literal("1"), z.boolean()]);
const pullPolicy = z
  .enum(["Always", "IfNotPresent", "Never"])
  .describe("Image pull policy (default IfNotPresent).");

/** One worker node group. Either key set is accepted: the workshop's (seed) or current upstream's. */
export const workerGroupSchema = z
  .strictObject({
    // Current upstream format.
    node_group_name: z.string().optional().describe("Node group name (upstream format)."),
    instance_types: z.array(z.string()).optional().describe("EC2 instance types (upstream format)."),
    capacity_type: z
      .enum(["SPOT", "ON_DEMAND"])
      .optional()
      .describe("SPOT or ON_DEMAND (upstream format; default SPOT)."),
    min_size: z.number().int().optional().describe("Minimum nodes (upstream format)."),
    max_size: z.number().int().optional().describe("Maximum nodes (upstream format)."),
    desired_size: z.number().int().optional().describe("Initial desired nodes (upstream format)."),
    // Workshop format.
    name: z.string().optional().describe("Node group name (workshop format)."),
    override_instance_types: z.array(z.string()).optional().describe("EC2 instance types (workshop format)."),
    spot_instance_pools: z
      .number()
      .int()
      .optional()
      .describe("Workshop format; only 0 is accepted: managed node groups choose spot pools themselves."),
    asg_min_size: z.number().int().optional().describe("Minimum nodes (workshop format)."),
    asg_max_size: z.number().int().optional().describe("Maximum nodes (workshop format)."),
    asg_desired_capacity: z.number().int().optional().describe("Initial desired nodes (workshop format)."),
    on_demand_base_capacity: z
      .number()
      .int()
      .optional()
      .describe("Workshop format; only 0 is accepted (a node group is all spot or all on-demand)."),
    on_demand_percentage_above_base_capacity: z
      .number()
      .int()
      .optional()
      .describe("Workshop format: 0 = all spot (default), 100 = all on-demand."),
  })
  .describe("A worker node group (workshop or upstream key set).");

const inputRoleSchema = z.strictObject({
  rolearn: z.string().describe("IAM role ARN; `{{account_id}}` is replaced by the deploying account."),
  username: z.string().describe("Kubernetes user name for the role."),
  groups: z
    .array(z.string())
    .describe("Kubernetes groups; `system:masters` maps to the EKS cluster-admin access policy."),
});

const imageSchema = z.strictObject({
  image: z
    .string()
    .optional()
    .describe(
      "Custom image repository under the registry (upstream's `<name>`); unset = the grid's stock image.",
    ),
  tag: z
    .string()
    .optional()
    .describe("Custom image tag (default: project_name); setting it also selects the custom image."),
  pullPolicy: pullPolicy.optional(),
});

const resourcesSchema = {
  minCPU: numberLike.optional().describe("CPU request, millicores."),
  maxCPU: numberLike.optional().describe("CPU limit, millicores."),
  minMemory: numberLike.optional().describe("Memory request, MiB."),
  maxMemory: numberLike.optional().describe("Memory limit, MiB."),
};

export const agentConfigurationSchema = z
  .strictObject({
    agent: z
      .strictObject({ ...imageSchema.shape, ...resourcesSchema })
      .optional()
      .describe(
        "Agent container, 10-50m CPU, 50-100 MiB: the stock Node.js image running the agent bundle from the workload bucket, or upstream's `<ecr>/awshpc-lambda:<tag>` when image/tag is set.",
      ),
    lambda: z
      .strictObject({
        image: z
          .string()
          .optional()
          .describe(
            "Custom worker image repository (upstream's `lambda`, tag = runtime); unset = AWS's Lambda base image.",
          ),
        runtime: z
          .string()
          .optional()
          .describe(
            "Worker runtime: `nodejs`, `python`, `java` or `provided` (also `nodejs22.x`, `python3.13`, `java21`, `provided.al2023`) pick AWS's Lambda base image; with `image`, any tag. Default `nodejs` for the built-in worker, `provided` (upstream's) with a location.",
          ),
        pullPolicy: pullPolicy.optional(),
        ...resourcesSchema,
        location: z
          .string()
          .optional()
          .describe(
            "Workshop format: the worker zip, `s3://bucket/key` (used as is) or a local path (relative to the config file; uploaded to the workload bucket). Unset: the built-in mock compute engine.",
          ),
        s3_source: z.string().optional().describe("Upstream format: same as `location`."),
        s3_source_kms_key_arn: z.string().optional().describe("KMS key of the worker zip's bucket."),
        lambda_handler_file_name: z
          .string()
          .optional()
          .describe("Handler file/module, e.g. `mock_compute_engine`."),
        lambda_handler_function_name: z
          .string()
          .optional()
          .describe("Handler function, e.g. `lambda_handler`."),
        function_name: z
          .string()
          .optional()
          .describe("Function name the agent invokes (default `function`)."),
        storage: z.literal("S3").optional().describe("Where the worker zip comes from; only S3."),
      })
      .optional()
      .describe(
        "Worker (Lambda-compatible) container. Default location: the bootstrap workload bucket's lambda.zip.",
      ),
    get_layer: z
      .strictObject({
        ...imageSchema.shape,
        lambda_layer_type: z.literal("S3").optional().describe("Download mode; only S3."),
      })
      .optional()
      .describe(
        "Upstream's init container that downloads the worker zip (`<ecr>/lambda-init:<tag>`), only when image/tag is set; by default the grid's fetch step does it.",
      ),
    test: imageSchema
      .optional()
      .describe(
        "Upstream's submitter image for `helm test` (`<ecr>/submitter:<tag>`, running its client.py), only when image/tag is set; by default the test pod runs the grid's client (`htc`) on the stock Node.js image.",
      ),
  })
  .describe("Images and resources of the agent pods (upstream `agent_configuration`).");

const backendSchema = z
  .discriminatedUnion("type", [
    z.strictObject({ type: z.literal("local") }),
    z.strictObject({
      type: z.literal("s3"),
      bucket: z.string().describe("State bucket (the bootstrap stack's `state_bucket` output)."),
      key_prefix: z
        .string()
        .optional()
        .describe("Key prefix; each stack's state is `<prefix>/<stack>.tfstate`."),
      region: z.string().optional().describe("Bucket region (default: the grid's region)."),
      kms_key_id: z.string().optional().describe("KMS key for state encryption."),
      dynamodb_table: z.string().optional().describe("Lock table; default: S3 native lockfile."),
    }),
    z.strictObject({
      type: z.literal("cloud"),
      organization: z.string().describe("Terraform Cloud / Enterprise organization."),
      hostname: z.string().optional().describe("Default app.terraform.io."),
      workspace_prefix: z
        .string()
        .optional()
        .describe("Workspaces are `<prefix><stack>`; default `htc-<project>-`."),
    }),
  ])
  .describe(
    'Where Terraform state lives for images, grid and grid-k8s (bootstrap is always local): `{"type": "local" | "s3" | "cloud", ...}`; env HTCGRID_BACKEND overrides.',
  );

const int = (min: number, max?: number) => {
  const base = z.number().int().min(min);
  return max === undefined ? base : base.max(max);
};

export const gridConfigSchema = z
  .strictObject({
    $schema: z.string().optional().describe("JSON Schema reference for editors."),
    region: z.string().default("eu-west-1").describe("AWS region of the grid."),
    project_name: z
      .string()
      .default("main")
      .describe("Grid tag: suffix of every resource name (lowercase, <= 20)."),
    cluster_name: z
      .string()
      .default("htc")
      .describe("EKS cluster / VPC name prefix; the cluster is `<cluster_name>-<project_name>`."),
    worker_backend: z
      .literal("eks")
      .default("eks")
      .describe("Compute backend; only `eks` (the EC2/ORB backend is not supported)."),
    grid_storage_service: z.string().default("REDIS").describe("Data plane: `S3`, `REDIS` or `S3+REDIS`."),
    max_htc_agents: int(1).default(100).describe("Maximum agent pods (KEDA max replicas)."),
    min_htc_agents: int(0).default(1).describe("Minimum agent pods (KEDA min replicas)."),
    htc_agent_target_value: int(1).default(2).describe("Queued tasks per agent that KEDA aims for."),
    dynamodb_default_read_capacity: int(1)
      .default(10)
      .describe("State table and GSI read capacity (PROVISIONED)."),
    dynamodb_default_write_capacity: int(1)
      .default(10)
      .describe("State table and GSI write capacity (PROVISIONED)."),
    dynamodb_billing_mode: z
      .enum(["PROVISIONED", "PAY_PER_REQUEST"])
      .default("PROVISIONED")
      .describe("State table billing."),
    dynamodb_autoscaling_enabled: z
      .boolean()
      .default(false)
      .describe("Autoscale table and GSI capacity (PROVISIONED only)."),
    dynamodb_deletion_protection: z
      .boolean()
      .default(true)
      .describe("Protect the state table from deletion."),
    ddb_state_table: z.string().default("htc_tasks_state_table").describe("State table base name."),
    state_table_service: z.literal("DynamoDB").default("DynamoDB").describe("State table implementation."),
    state_table_config: z
      .string()
      .default("{'retries':{'max_attempts':10, 'mode':'adaptive'}}")
      .describe("SDK retry config for agents (upstream string; single quotes allowed)."),
    task_queue_service: z
      .enum(["SQS", "PrioritySQS"])
      .default("SQS")
      .describe("`SQS` (one queue) or `PrioritySQS`."),
    task_queue_config: z
      .union([z.string(), z.strictObject({ priorities: int(1, 16) })])
      .default("{'priorities':3}")
      .describe('PrioritySQS settings: `{"priorities": N}` (upstream string form accepted).'),
    sqs_queue: z
      .string()
      .default("htc_task_queue")
      .describe("Task queue base name (`<base>-<project>__<p>`)."),
    sqs_dlq: z.string().default("htc_task_queue_dlq").describe("Dead-letter queue base name."),
    sqs_visibility_timeout_sec: int(0, 43200)
      .default(40)
      .describe("Initial visibility timeout of task messages."),
    task_max_retries: int(0, 100)
      .default(5)
      .describe("Times the TTL checker re-queues an expired task before failing it."),
    s3_bucket: z.string().default("htc-data-bucket").describe("Data bucket base name."),
    data_bucket_expiration_days: int(0)
      .default(30)
      .describe("Days before task payloads expire from the data bucket (0 = never)."),
    redis_data_expiration_hours: int(0, 8760)
      .default(72)
      .describe(
        "Hours before a task's input and output expire from Redis (0 = never); with `REDIS` storage a full cache refuses writes instead of evicting.",
      ),
    redis_engine: z.enum(["redis", "valkey"]).default("redis").describe("ElastiCache engine."),
    redis_engine_version: z
      .string()
      .default("7.1")
      .describe("ElastiCache engine version: redis `7.0`, `7.1`; valkey `7.2`, `8.0`, `8.1`, `8.2`, `9.0`."),
    redis_node_type: z
      .string()
      .default("cache.r7g.large")
      .describe("ElastiCache node type `cache.<family>.<size>` (t3, t4g, m5, m6g, m7g, r5, r6g, r7g, c7gn)."),
    redis_replicas: int(0, 5).default(0).describe("Read replicas."),
    redis_multi_az: z
      .boolean()
      .default(false)
      .describe("Multi-AZ with automatic failover (needs redis_replicas >= 1)."),
    eks_worker_groups: z.array(workerGroupSchema).default([]).describe("Worker node groups (see below)."),
    core_node_group: z
      .strictObject({
        instance_types: z.array(z.string()).min(1).optional(),
        min_size: int(1).optional(),
        max_size: int(1).optional(),
        desired_size: int(1).optional(),
      })
      .default({})
      .describe("On-demand core group for system add-ons (default m6i.large x2, 2-6)."),
    eks_node_volume_size: int(20, 16384).default(50).describe("Node root volume (GiB, gp3, encrypted)."),
    kubernetes_version: z
      .string()
      .default("1.35")
      .describe("EKS Kubernetes version: `1.32` to `1.36` (1.35 and 1.36 have a pinned cluster-autoscaler)."),
    k8s_ca_version: z
      .string()
      .optional()
      .describe(
        "Cluster-autoscaler image tag `v<minor>.<patch>` of the cluster's minor (default: the pinned one for kubernetes_version).",
      ),
    k8s_keda_version: z.string().optional().describe("Override the pinned KEDA chart version."),
    input_role: z
      .array(inputRoleSchema)
      .default([])
      .describe("IAM roles given cluster access (EKS access entries)."),
    eks_public_access: z
      .boolean()
      .default(false)
      .describe(
        "Expose the EKS API to eks_public_access_cidrs (private access is always on). Needed when grid-k8s is deployed from outside the VPC.",
      ),
    eks_public_access_cidrs: z
      .array(cidrString)
      .default([])
      .describe(
        "Public CIDRs allowed to the EKS endpoint (required when public), e.g. the deployer's `203.0.113.7/32`; at most 40.",
      ),
    deployer_inside_vpc: z
      .boolean()
      .default(false)
      .describe(
        "The machine that deploys grid-k8s reaches the VPC (VPN, peering, bastion), so a private-only endpoint is enough. Without it, grid-k8s's plan stops with instructions while the endpoint is private.",
      ),
    enable_monitoring: z.boolean().default(false).describe("Install Prometheus and Grafana."),
    grafana_allowed_cidrs: z
      .array(cidrString)
      .default([])
      .describe("CIDRs allowed to reach Grafana; empty = not exposed."),
    enable_private_subnet: z
      .boolean()
      .default(true)
      .describe("true: no NAT, VPC endpoints; false: NAT egress."),
    vpc_cidr_block: cidrString.default("10.0.0.0/16").describe("VPC range."),
    vpc_cidr_block_public: z
      .union([int(16, 28), z.array(cidrString)])
      .default(24)
      .describe("Public subnets: a netmask (e.g. 24) carved per AZ, or one CIDR per AZ."),
    vpc_cidr_block_private: z
      .union([int(16, 28), z.array(cidrString)])
      .default(18)
      .describe(
        "Private subnets: a netmask (e.g. 18) carved per AZ after the public ones, or one CIDR per AZ.",
      ),
    availability_zone_count: int(1, 6)
      .optional()
      .describe("AZs to span with netmask layouts (default min(3, region's AZs))."),
    nat_gateway_per_az: z
      .boolean()
      .default(false)
      .describe("One NAT per AZ instead of one (enable_private_subnet false)."),
    allowed_access_cidr_blocks: z
      .array(cidrString)
      .default([])
      .describe("Extra CIDRs allowed to Redis and endpoints."),
    allow_public_access: z
      .array(z.enum(["eks_public_access_cidrs", "grafana_allowed_cidrs", "allowed_access_cidr_blocks"]))
      .default([])
      .describe(
        "Acknowledgement that these keys may hold a CIDR wider than /8 (e.g. `0.0.0.0/0`, open to the internet); without it such a CIDR is refused.",
      ),
    kms_deletion_window: int(7, 30).default(7).describe("KMS key deletion window (days)."),
    kms_key_admin_roles: z.array(z.string()).default([]).describe("Extra KMS key administrator role ARNs."),
    log_retention_days: z
      .union([
        z.literal(1),
        z.literal(3),
        z.literal(5),
        z.literal(7),
        z.literal(14),
        z.literal(30),
        z.literal(60),
        z.literal(90),
        z.literal(120),
        z.literal(150),
        z.literal(180),
        z.literal(365),
        z.literal(400),
        z.literal(545),
        z.literal(731),
        z.literal(1096),
        z.literal(1827),
        z.literal(2192),
        z.literal(2557),
        z.literal(2922),
        z.literal(3288),
        z.literal(3653),
      ])
      .default(365)
      .describe("CloudWatch log retention (days; a value CloudWatch accepts)."),
    api_gateway_version: z
      .string()
      .default("v1")
      .describe("API Gateway stage name (letters, digits, `-`, `_`)."),
    api_throttling_rate_limit: int(1).default(1000).describe("API steady-state requests per second."),
    api_throttling_burst_limit: int(1).default(2000).describe("API burst requests."),
    task_input_passed_via_external_storage: flag01
      .default(1)
      .describe("1: payloads via the data plane; 0: inline."),
    lambda_name_submit_tasks: z.string().default("submit_task").describe("Lambda base name."),
    lambda_name_get_results: z.string().default("get_results").describe("Lambda base name."),
    lambda_name_cancel_tasks: z.string().default("cancel_tasks").describe("Lambda base name."),
    lambda_name_ttl_checker: z.string().default("ttl_checker").describe("Lambda base name."),
    lambda_name_scaling_metrics: z.string().default("scaling_metrics").describe("Lambda base name."),
    error_log_group: z.string().default("grid_errors").describe("Central error log group base name."),
    error_logging_stream: z.string().default("lambda_errors").describe("Central error log stream base name."),
    namespace_metrics: z
      .string()
      .default("CloudGrid/HTC/Scaling/")
      .describe("CloudWatch namespace of the backlog metric."),
    dimension_name_metrics: z.string().default("cluster_name").describe("Backlog metric dimension name."),
    metrics_name: z.string().default("pending_tasks_ddb").describe("Backlog metric base name."),
    period_metrics: numberLike.default("1").describe("Backlog metric storage resolution (1 or 60 s)."),
    metrics_event_rule_time: z
      .string()
      .default("rate(1 minute)")
      .describe("scaling_metrics schedule: `rate(...)` or `cron(...)` (EventBridge syntax)."),
    htc_agent_name: z
      .string()
      .default("htc-agent")
      .describe("Agent Deployment and Helm release name (lowercase DNS label, <= 53)."),
    htc_agent_namespace: z
      .string()
      .default("default")
      .describe("Namespace of the agents and their ConfigMap (lowercase DNS label)."),
    graceful_termination_delay: int(1).default(1500).describe("Agent pod termination grace (s)."),
    empty_task_queue_backoff_timeout_sec: z
      .number()
      .positive()
      .default(0.5)
      .describe("Agent idle back-off (s)."),
    work_proc_status_pull_interval_sec: z
      .number()
      .positive()
      .default(0.5)
      .describe("Agent heartbeat check interval (s)."),
    task_ttl_expiration_offset_sec: z
      .number()
      .positive()
      .default(30)
      .describe("Heartbeat expiry horizon (s)."),
    task_ttl_refresh_interval_sec: z
      .number()
      .positive()
      .default(5)
      .describe("Heartbeat refresh interval (s; < expiry offset)."),
    dynamodb_results_pull_interval_sec: z
      .number()
      .positive()
      .default(0.5)
      .describe(
        "Client result poll interval (s): the first and the shortest; it grows by half up to 5 s, and a poll comes sooner when the session's rate says it ends then.",
      ),
    agent_task_visibility_timeout_sec: int(0, 43200)
      .default(3600)
      .describe("Message visibility after a claim (s)."),
    metrics_are_enabled: flag01
      .default(0)
      .describe("InfluxDB performance metrics; only 0 (no InfluxDB is deployed)."),
    enable_xray: flag01.default(0).describe("Agent X-Ray tracing."),
    agent_use_congestion_control: flag01.default(0).describe("Passed to agents (upstream reads it, unused)."),
    htc_path_logs: z.string().default("logs/").describe("Agent log path (agent config only)."),
    aws_htc_ecr: z
      .string()
      .default("")
      .describe("Registry prefix; empty = `<account>.dkr.ecr.<region>.<dns suffix>`."),
    agent_configuration: agentConfigurationSchema.default({}),
    agent_config_include_secrets: z
      .boolean()
      .default(false)
      .describe("Write the Redis token and private API key into generated/agent_config.json (opt-in)."),
    ecr_immutable_tags: z
      .boolean()
      .default(false)
      .describe("Immutable image tags on the grid's ECR repositories."),
    ghcr_credential_secret: z
      .string()
      .default("ecr-pullthroughcache/ghcr")
      .describe(
        "Secrets Manager secret (`ecr-pullthroughcache/...`, JSON `username` + `accessToken` of a GitHub token) that ECR's pull-through cache uses for ghcr.io (KEDA, Grafana); create it before deploying the images stack.",
      ),
    allow_destroy: z
      .boolean()
      .default(false)
      .describe(
        "Let `cdktf destroy` remove what holds data: state-table and user-pool deletion protection off, buckets and ECR repositories emptied on destroy. Apply it, then destroy.",
      ),
    state_locking: z
      .enum(["s3-lockfile", "dynamodb"])
      .default("s3-lockfile")
      .describe("State locking for the S3 backend."),
    backend: backendSchema.default({ type: "local" }),
    tags: z
      .record(z.string(), z.string())
      .default({})
      .describe(
        "Extra tags on every resource (at most 45; keys <= 128, values <= 256 characters; letters, digits, spaces, `_ . : / = + - @`).",
      ),
  })
  .describe("HTC-Grid configuration");

export type RawGridConfig = z.output<typeof gridConfigSchema>;

/**
 * Keys upstream documents that this grid deliberately does not take, with the reason. They are rejected with
 * this message rather than silently ignored.
 */
export const UNSUPPORTED_KEYS: Readonly<Record<string, string>> = {
  ec2_worker_vcpus: 'the EC2/ORB worker backend is not supported (worker_backend must be "eks")',
  ec2_worker_memory_mb: "the EC2/ORB worker backend is not supported",
  ec2_compose_plugin_version: "the EC2/ORB worker backend is not supported",
  orb_max_instances: "the EC2/ORB worker backend is not supported",
  orb_target_pending_per_pair: "the EC2/ORB worker backend is not supported",
  orb_min_vcpus: "the EC2/ORB worker backend is not supported",
  orb_max_vcpus: "the EC2/ORB worker backend is not supported",
  orb_control_interval: "the EC2/ORB worker backend is not supported",
  orb_template_id: "the EC2/ORB worker backend is not supported",
  ec2_drain_deadline_sec: "the EC2/ORB worker backend is not supported",
  lambda_runtime:
    "control-plane Lambdas are built from this repository's TypeScript on Node.js 22; the runtime is fixed",
  lambda_name_node_drainer: "there is no node_drainer Lambda: managed node groups drain nodes themselves",
  agent_configuration_filename:
    "the agent configuration is written to generated/agent_config.json by `npm run outputs`",
  grafana_admin_password:
    "a password must not live in the config file; Grafana's admin password is generated into Secrets Manager",
  metrics_submit_tasks_lambda_connection_string:
    "InfluxDB metrics are not deployed (metrics_are_enabled must be 0)",
  metrics_cancel_tasks_lambda_connection_string: "InfluxDB metrics are not deployed",
  metrics_get_results_lambda_connection_string: "InfluxDB metrics are not deployed",
  metrics_ttl_checker_lambda_connection_string: "InfluxDB metrics are not deployed",
  metrics_pre_agent_connection_string: "InfluxDB metrics are not deployed",
  metrics_post_agent_connection_string: "InfluxDB metrics are not deployed",
  "agent_configuration.agent_chart_url": "the agent chart ships with this repository",
  "agent_configuration.lambda.layer_name":
    "Lambda-layer download mode is not supported; use lambda.s3_source",
  "agent_configuration.lambda.layer_version":
    "Lambda-layer download mode is not supported; use lambda.s3_source",
  "agent_configuration.lambda.region": "the worker zip is read in the grid's region",
};

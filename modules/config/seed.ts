// The workshop's example configuration (shared/seeds/htc-grid-building-artifacts.md), used as the built-in
// default. Two values in the seed belong to the workshop's own AWS account and are replaced by what upstream's
// templates use instead: the role ARN's account id becomes the `{{account_id}}` placeholder (resolved in
// Terraform), and `agent_configuration.lambda.location` is left out together with its `runtime: "provided"` (the
// workshop's C++ engine), so the grid runs its built-in Node.js mock compute engine, uploaded to the workload bucket.
export const SEED_GRID_CONFIG = {
  region: "eu-west-1",
  project_name: "main",
  grid_storage_service: "REDIS",
  max_htc_agents: 100,
  min_htc_agents: 1,
  dynamodb_default_read_capacity: 10,
  dynamodb_default_write_capacity: 10,
  eks_worker_groups: [
    {
      name: "worker-small-spot",
      override_instance_types: ["m5.xlarge", "m4.xlarge", "m5d.xlarge", "m5a.xlarge"],
      spot_instance_pools: 0,
      asg_min_size: 0,
      asg_max_size: 3,
      asg_desired_capacity: 1,
      on_demand_base_capacity: 0,
    },
    {
      name: "worker-medium-spot",
      override_instance_types: ["m5.2xlarge", "m5d.2xlarge", "m5a.2xlarge", "m4.2xlarge"],
      spot_instance_pools: 0,
      asg_min_size: 0,
      asg_max_size: 3,
      asg_desired_capacity: 0,
      on_demand_base_capacity: 0,
    },
  ],
  agent_configuration: {
    lambda: {
      minCPU: "800",
      maxCPU: "900",
      minMemory: "1200",
      maxMemory: "1900",
    },
  },
  enable_private_subnet: true,
  vpc_cidr_block_public: ["10.0.192.0/24", "10.0.193.0/24", "10.0.194.0/24"],
  vpc_cidr_block_private: ["10.0.0.0/18", "10.0.64.0/18", "10.0.128.0/18"],
  input_role: [
    {
      rolearn: "arn:aws:iam::{{account_id}}:role/Admin",
      username: "lambda",
      groups: ["system:masters"],
    },
  ],
};

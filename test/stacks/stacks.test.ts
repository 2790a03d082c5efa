import { beforeAll, describe, expect, it } from "vitest";
import { gridConfig, synthApp, type TfJson } from "../support/grid-synth";
import { GRID_NODE_TAG_KEYS } from "../../modules/config/normalize/identity";

describe("the app's stacks", () => {
  let stacks: Record<string, TfJson>;
  beforeAll(() => {
    stacks = synthApp(gridConfig());
  });

  it("synthesizes the four stacks", () => {
    expect(Object.keys(stacks).sort()).toEqual(["bootstrap", "grid", "grid-k8s", "images"]);
  });

  it("keeps local state by default, bootstrap always", () => {
    for (const name of ["bootstrap", "images", "grid", "grid-k8s"]) {
      expect(stacks[name].terraform.backend).toEqual({
        local: { path: `../../../terraform.${name}.tfstate` },
      });
    }
  });

  it("tags every resource through the AWS provider's default tags", () => {
    for (const stack of Object.values(stacks)) {
      const tags = stack.provider.aws[0].default_tags[0].tags;
      expect(tags).toMatchObject({ "htc:project": "main", "htc:grid": "htc-main", "managed-by": "cdktf" });
      expect(stack.provider.aws[0].region).toBe("eu-west-1");
    }
  });

  it("repeats the grid's tags on the nodes' instances and volumes, which default tags do not reach", () => {
    const stack = stacks.grid;
    const templates = Object.values(stack.resource.aws_launch_template) as {
      tag_specifications: { resource_type: string; tags: Record<string, string> }[];
    }[];
    expect(templates.length).toBeGreaterThanOrEqual(2);
    for (const template of templates) {
      expect(template.tag_specifications.map((t) => t.resource_type)).toEqual(["instance", "volume"]);
      for (const spec of template.tag_specifications) {
        expect(spec.tags).toMatchObject({
          "htc:project": "main",
          "htc:grid": "htc-main",
          "managed-by": "cdktf",
        });
        expect(spec.tags.Name).toMatch(/^htc-main-(core|worker)$/);
        // What the config's tag limit counts on top of the grid's own tags (checkTags).
        expect(
          Object.keys(spec.tags).filter((k) => !(k in stack.provider.aws[0].default_tags[0].tags)),
        ).toEqual([...GRID_NODE_TAG_KEYS]);
      }
    }
  });

  it("points the in-cluster providers at the cluster by its literal name with exec auth", () => {
    const k8s = stacks["grid-k8s"];
    const exec = k8s.provider.kubernetes[0].exec[0];
    expect(exec.command).toBe("aws");
    expect(exec.args).toEqual(["eks", "get-token", "--cluster-name", "htc-main", "--region", "eu-west-1"]);
    expect(k8s.provider.helm[0].kubernetes.exec.args).toEqual(exec.args);
    expect(k8s.data.aws_eks_cluster.cluster.name).toBe("htc-main");
    // No stored token: aws_eks_cluster_auth tokens expire after 15 minutes and would land in the plan.
    expect(k8s.provider.kubernetes[0].token).toBeUndefined();
    expect(k8s.data.aws_eks_cluster_auth).toBeUndefined();
  });

  it("pins every provider version exactly", () => {
    for (const stack of Object.values(stacks)) {
      for (const p of Object.values(stack.terraform.required_providers) as { version: string }[]) {
        expect(p.version).toMatch(/^\d+\.\d+\.\d+$/);
      }
    }
  });
});

describe("state backends", () => {
  it("uses S3 with encryption and the native lockfile when selected from the environment", () => {
    const stacks = synthApp(
      gridConfig(
        {},
        { HTCGRID_BACKEND: "s3", HTCGRID_STATE_BUCKET: "my-state", HTCGRID_STATE_KMS_KEY: "alias/state" },
      ),
    );
    expect(stacks.grid.terraform.backend.s3).toMatchObject({
      bucket: "my-state",
      key: "htc-grid/main/grid.tfstate",
      encrypt: true,
      kms_key_id: "alias/state",
      use_lockfile: true,
    });
    expect(stacks["grid-k8s"].terraform.backend.s3.key).toBe("htc-grid/main/grid-k8s.tfstate");
    expect(stacks.bootstrap.terraform.backend).toEqual({
      local: { path: "../../../terraform.bootstrap.tfstate" },
    });
  });

  it("uses a DynamoDB lock table instead of the lockfile when one is configured", () => {
    const stacks = synthApp(
      gridConfig({ backend: { type: "s3", bucket: "my-state", dynamodb_table: "locks" } }),
    );
    expect(stacks.images.terraform.backend.s3.dynamodb_table).toBe("locks");
    expect(stacks.images.terraform.backend.s3.use_lockfile).toBeUndefined();
  });

  it("uses one Terraform Cloud workspace per stack", () => {
    const stacks = synthApp(gridConfig({ backend: { type: "cloud", organization: "acme" } }));
    expect(stacks.grid.terraform.cloud).toEqual({
      hostname: "app.terraform.io",
      organization: "acme",
      workspaces: { name: "htc-main-grid" },
    });
    expect(stacks["grid-k8s"].terraform.cloud.workspaces.name).toBe("htc-main-grid-k8s");
  });
});

describe("stack wiring", () => {
  it("lets the nodes use the images stack's pull-through cache policy, found by the same name helper", () => {
    const stacks = synthApp(gridConfig());
    const policyName =
      stacks.images.resource.aws_iam_policy && Object.values(stacks.images.resource.aws_iam_policy)[0];
    const lookup = Object.values(stacks.grid.data.aws_iam_policy)[0] as { name: string };
    expect(lookup.name).toBe((policyName as { name: string }).name);
    const attachment = Object.entries(stacks.grid.resource.aws_iam_role_policy_attachment).find(([id]) =>
      id.startsWith("node-pull-through-cache"),
    )![1] as { role: string; policy_arn: string };
    expect(attachment.policy_arn).toMatch(/^\$\{data\.aws_iam_policy\.pull-through-cache-policy.*\.arn\}$/);
    expect(attachment.role).toMatch(/aws_iam_role\.compute_node-groups_.*\.name/);
  });
});

describe("no dependency on the region's default VPC (upstream defect)", () => {
  it("looks up no default VPC in any stack", () => {
    for (const stack of Object.values(synthApp(gridConfig()))) {
      const vpcs = Object.values(stack.data?.aws_vpc ?? {}) as { default?: boolean }[];
      expect(vpcs.filter((v) => v.default === true)).toEqual([]);
    }
  });
});

// The images stack: the grid's ECR repositories, the pull-through cache rules and the node policy for them.
import { beforeAll, describe, expect, it } from "vitest";
import type { GridConfig } from "../../modules/config/model";
import { ImagesStack } from "../../stacks/images-stack";
import {
  gridConfig,
  oneResource,
  referenceOf,
  resourcesOf,
  synthStack,
  type TfJson,
} from "../support/grid-synth";

interface Scenario {
  config: GridConfig;
  stack: ImagesStack;
  json: TfJson;
}

function scenario(overrides: Record<string, unknown>): Scenario {
  const config = gridConfig(overrides);
  let stack: ImagesStack | undefined;
  const { json } = synthStack((app) => (stack = new ImagesStack(app, "images", { config })));
  return { config, stack: stack!, json };
}

describe("images stack (default: mutable tags)", () => {
  let s: Scenario;
  beforeAll(() => {
    s = scenario({});
  });

  it("creates upstream's repository names so upstream images push unchanged", () => {
    const names = Object.values(resourcesOf(s.json, "aws_ecr_repository")).map((r) => r.name);
    expect(names.sort()).toEqual(["awshpc-lambda", "lambda", "lambda-init", "submitter"]);
  });

  it("scans on push and encrypts every repository with the images stack's rotating key", () => {
    const key = oneResource(s.json, "aws_kms_key");
    expect(key.enable_key_rotation).toBe(true);
    const sids = JSON.parse(key.policy).Statement.map((st: { Sid: string }) => st.Sid);
    expect(sids).toContain("UseViaecr");
    const keyName = Object.keys(resourcesOf(s.json, "aws_kms_key"))[0];
    for (const repository of Object.values(resourcesOf(s.json, "aws_ecr_repository"))) {
      expect(repository.image_scanning_configuration).toEqual({ scan_on_push: true });
      expect(repository.encryption_configuration).toEqual([
        { encryption_type: "KMS", kms_key: `\${aws_kms_key.${keyName}.arn}` },
      ]);
      expect(repository.image_tag_mutability).toBe("MUTABLE");
    }
  });

  it("expires untagged images of every repository", () => {
    const policies = Object.values(resourcesOf(s.json, "aws_ecr_lifecycle_policy"));
    const repositories = resourcesOf(s.json, "aws_ecr_repository");
    expect(policies.map((p) => repositories[referenceOf(p.repository)![1]].name).sort()).toEqual([
      "awshpc-lambda",
      "lambda",
      "lambda-init",
      "submitter",
    ]);
    for (const policy of policies) {
      const [rule] = JSON.parse(policy.policy).rules;
      expect(rule.selection).toMatchObject({
        tagStatus: "untagged",
        countType: "sinceImagePushed",
        countNumber: 14,
      });
      expect(rule.action).toEqual({ type: "expire" });
    }
  });

  it("caches public.ecr.aws, registry.k8s.io, quay.io and ghcr.io under their prefixes", () => {
    const rules = Object.values(resourcesOf(s.json, "aws_ecr_pull_through_cache_rule")).map((r) => [
      r.ecr_repository_prefix,
      r.upstream_registry_url,
    ]);
    expect(rules.sort()).toEqual([
      ["ecr-public", "public.ecr.aws"],
      ["ghcr", "ghcr.io"],
      ["quay", "quay.io"],
      ["registry-k8s-io", "registry.k8s.io"],
    ]);
  });

  it("grants nodes cache creation and import only on the cache prefixes' repositories", () => {
    const policy = oneResource(s.json, "aws_iam_policy");
    expect(policy.name).toBe("htc-ecr-pull-through-cache-main");
    const [statement, ...rest] = JSON.parse(policy.policy).Statement;
    expect(rest).toEqual([]);
    expect(statement.Action.sort()).toEqual(["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]);
    expect(statement.Resource).toHaveLength(4);
    for (const [i, prefix] of ["ecr-public", "registry-k8s-io", "quay", "ghcr"].entries()) {
      expect(statement.Resource[i]).toMatch(
        new RegExp(
          `^arn:\\$\\{data\\.aws_partition\\.[^}]+\\}:ecr:eu-west-1:\\$\\{data\\.aws_caller_identity\\.[^}]+\\}:repository/${prefix}/\\*$`,
        ),
      );
    }
  });

  it("has ECR create cache repositories with the grid's key and lifecycle, through a role only ECR can assume", () => {
    const keyName = Object.keys(resourcesOf(s.json, "aws_kms_key"))[0];
    const roles = resourcesOf(s.json, "aws_iam_role");
    const [roleName, role] = Object.entries(roles)[0];
    expect(Object.keys(roles)).toHaveLength(1);
    expect(role.name).toBe("htc-ecr-cache-creation-main");
    expect(JSON.parse(role.assume_role_policy).Statement).toEqual([
      { Effect: "Allow", Principal: { Service: "ecr.amazonaws.com" }, Action: "sts:AssumeRole" },
    ]);
    const repositoryLifecycle = Object.values(resourcesOf(s.json, "aws_ecr_lifecycle_policy"))[0].policy;
    const templates = Object.values(resourcesOf(s.json, "aws_ecr_repository_creation_template"));
    expect(templates.map((t) => t.prefix).sort()).toEqual(["ecr-public", "ghcr", "quay", "registry-k8s-io"]);
    for (const template of templates) {
      expect(template.applied_for).toEqual(["PULL_THROUGH_CACHE"]);
      expect(template.encryption_configuration).toEqual([
        { encryption_type: "KMS", kms_key: `\${aws_kms_key.${keyName}.arn}` },
      ]);
      expect(template.custom_role_arn).toBe(`\${aws_iam_role.${roleName}.arn}`);
      expect(template.lifecycle_policy).toBe(repositoryLifecycle);
      // The role's permissions exist before ECR may assume it for a pull.
      expect(template.depends_on).toEqual([expect.stringMatching(/^aws_iam_role_policy\./)]);
    }
    const policy = oneResource(s.json, "aws_iam_role_policy");
    expect(referenceOf(policy.role)).toEqual(["aws_iam_role", roleName]);
    const statements = JSON.parse(policy.policy).Statement;
    expect(statements[0].Resource).toEqual(
      JSON.parse(oneResource(s.json, "aws_iam_policy").policy).Statement[0].Resource,
    );
    expect(statements[1]).toMatchObject({
      Action: ["kms:CreateGrant", "kms:RetireGrant", "kms:DescribeKey"],
      Resource: `\${aws_kms_key.${keyName}.arn}`,
    });
    // The key policy names the role, so ECR's grant works whether or not the call comes via the ECR endpoint.
    const keyPolicy = JSON.parse(oneResource(s.json, "aws_kms_key").policy).Statement;
    const byRole = keyPolicy.find((st: { Sid: string }) => st.Sid === "UseByPrincipals");
    expect(byRole.Principal).toEqual({ AWS: [`\${aws_iam_role.${roleName}.arn}`] });
    expect(byRole.Action).toContain("kms:CreateGrant");
  });

  it("outputs the policy ARN and exposes the policy object", () => {
    const policyName = Object.keys(resourcesOf(s.json, "aws_iam_policy"))[0];
    expect(s.json.output.pull_through_cache_policy_arn.value).toBe(`\${aws_iam_policy.${policyName}.arn}`);
    expect(s.stack.images.pullThroughCachePolicy).toBeDefined();
    expect(s.json.output.agent_repository_url.value).toMatch(
      /^\$\{aws_ecr_repository\.images_repositories_awshpc-lambda_/,
    );
  });
});

describe("images stack with ecr_immutable_tags", () => {
  it("makes every repository's tags immutable", () => {
    const s = scenario({ ecr_immutable_tags: true });
    const repositories = Object.values(resourcesOf(s.json, "aws_ecr_repository"));
    expect(repositories).toHaveLength(4);
    for (const repository of repositories) expect(repository.image_tag_mutability).toBe("IMMUTABLE");
  });
});

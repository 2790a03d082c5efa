// Every add-on image a grid runs comes through the grid's own ECR pull-through cache (nodes in private subnets have
// no other way out), for the default config and the full-options one (monitoring on). The add-on charts are
// remote (kubernetes.github.io, kedacore.github.io, ...) and cannot be fetched here, so this checks the values
// Terraform passes: each image the pinned chart renders (ADDON_IMAGES) points at the cache, and no string in any
// values document names another registry. The agent chart and the jobs are rendered for real in
// test/images/pod-images.test.ts.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseGridConfig } from "../../modules/config/load";
import { ADDON_IMAGES, ADDON_VERSIONS } from "../../modules/cluster-addons/versions";
import { PULL_THROUGH_CACHES, throughCache } from "../../modules/images/pull-through";
import { gridConfig, resourcesOf, synthApp, type TfJson } from "../support/grid-synth";

/** `<account>.dkr.ecr.<region>.<dns suffix>` as Terraform tokens, like the stack builds it. */
const GRID_REGISTRY =
  /^\$\{data\.aws_caller_identity\.[\w-]+\.account_id\}\.dkr\.ecr\.[a-z0-9-]+\.\$\{data\.aws_partition\.[\w-]+\.dns_suffix\}/;

/** Hosts of public registries an image string could name. */
const FOREIGN_REGISTRY =
  /(^|[\s"'/=])(docker\.io|registry-1\.docker\.io|quay\.io|ghcr\.io|gcr\.io|registry\.k8s\.io|k8s\.gcr\.io|public\.ecr\.aws|mcr\.microsoft\.com)\//;

const RELEASE_OF: Record<keyof typeof ADDON_IMAGES, string> = {
  clusterAutoscaler: "cluster-autoscaler",
  keda: "keda",
  prometheus: "prometheus",
  grafana: "grafana",
};

function strings(value: unknown, path = ""): [string, string][] {
  if (typeof value === "string") return [[path, value]];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${path}[${i}]`));
  if (value && typeof value === "object")
    return Object.entries(value).flatMap(([k, v]) => strings(v, path ? `${path}.${k}` : k));
  return [];
}

function at(values: unknown, dotted: string): Record<string, string> {
  return dotted.split(".").reduce((v, k) => (v as Record<string, unknown>)?.[k], values) as Record<
    string,
    string
  >;
}

function addonValues(stacks: Record<string, TfJson>): Record<string, unknown> {
  const releases = Object.values(resourcesOf(stacks["grid-k8s"], "helm_release"));
  return Object.fromEntries(
    releases.filter((r) => r.repository).map((r) => [r.name, parse((r.values as string[])[0])]),
  );
}

describe.each([
  ["default config", () => gridConfig()],
  [
    "full-options config",
    () =>
      parseGridConfig(
        JSON.parse(readFileSync(join(__dirname, "../fixtures/full-options-config.json"), "utf8")),
        "full-options",
      ),
  ],
])("add-on images, %s", (_name, config) => {
  let values: Record<string, unknown>;
  let registry: string;
  beforeAll(() => {
    values = addonValues(synthApp(config()));
    const autoscaler = at(values["cluster-autoscaler"], "image").repository;
    registry = GRID_REGISTRY.exec(autoscaler)![0];
  });

  it("sends every image the pinned charts render through the grid's pull-through cache", () => {
    expect(registry).toMatch(GRID_REGISTRY);
    for (const [addon, images] of Object.entries(ADDON_IMAGES)) {
      const release = values[RELEASE_OF[addon as keyof typeof ADDON_IMAGES]];
      if (release === undefined) continue; // monitoring is off in the default config
      for (const image of images) {
        const block = at(release, image.values);
        const reference =
          image.style === "repository" ? block.repository : `${block.registry}/${block.repository}`;
        expect(reference, `${addon} ${image.values}`).toBe(throughCache(registry, image.upstream));
      }
    }
  });

  it("names no other registry anywhere in the add-on values", () => {
    for (const [release, v] of Object.entries(values)) {
      for (const [path, text] of strings(v)) {
        expect(FOREIGN_REGISTRY.test(text), `${release}: ${path} = ${text}`).toBe(false);
      }
    }
  });

  it("installs exactly the add-ons the image table covers", () => {
    const expected = Object.keys(ADDON_VERSIONS).map((k) => RELEASE_OF[k as keyof typeof ADDON_IMAGES]);
    for (const name of Object.keys(values)) expect(expected).toContain(name);
  });
});

describe("pull-through cache rules", () => {
  let images: TfJson;
  beforeAll(() => {
    images = synthApp(gridConfig())["images"];
  });

  it("serves every upstream the grid's images come from, ghcr.io with the configured credential", () => {
    const rules = Object.values(resourcesOf(images, "aws_ecr_pull_through_cache_rule"));
    expect(rules.map((r) => [r.upstream_registry_url, r.ecr_repository_prefix]).sort()).toEqual(
      Object.values(PULL_THROUGH_CACHES)
        .map((c) => [c.upstream, c.prefix])
        .sort(),
    );
    const ghcr = rules.find((r) => r.upstream_registry_url === "ghcr.io")!;
    expect(ghcr.credential_arn).toMatch(/^\$\{data\.aws_secretsmanager_secret\.[\w-]+\.arn\}$/);
    for (const rule of rules.filter((r) => r.upstream_registry_url !== "ghcr.io"))
      expect(rule.credential_arn).toBeUndefined();
    const secret = Object.values(images.data.aws_secretsmanager_secret as Record<string, TfJson>)[0];
    expect(secret.name).toBe("ecr-pullthroughcache/ghcr");
  });

  it("stops the plan with a message naming the missing ghcr.io secret, reading no secret value", () => {
    const check = Object.values(images.data.aws_secretsmanager_secrets as Record<string, TfJson>)[0];
    expect(check.filter).toEqual([{ name: "name", values: ["ecr-pullthroughcache/ghcr"] }]);
    const [post] = check.lifecycle.postcondition;
    expect(post.condition).toBe('${contains(self.names, "ecr-pullthroughcache/ghcr")}');
    expect(post.error_message).toContain("aws secretsmanager create-secret --name ecr-pullthroughcache/ghcr");
    expect(images.data.aws_secretsmanager_secret_version).toBeUndefined();
  });

  it("lets nodes fill every cache prefix, and only those", () => {
    const policy = JSON.parse(Object.values(resourcesOf(images, "aws_iam_policy"))[0].policy);
    const [statement] = policy.Statement;
    expect(statement.Action).toEqual(["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"]);
    expect(statement.Resource.map((arn: string) => arn.split(":repository/")[1])).toEqual(
      Object.values(PULL_THROUGH_CACHES).map((c) => `${c.prefix}/*`),
    );
  });

  it("refuses a credential secret ECR would not read, at config time", () => {
    expect(() => gridConfig({ ghcr_credential_secret: "my-github-token" })).toThrow(
      /ghcr_credential_secret: "my-github-token" is not allowed; ECR's pull-through cache only reads secrets named "ecr-pullthroughcache\/<name>"/,
    );
    expect(gridConfig({ ghcr_credential_secret: "ecr-pullthroughcache/team-gh" }).ghcrCredentialSecret).toBe(
      "ecr-pullthroughcache/team-gh",
    );
  });
});

// The agent chart rendered with exactly the values Terraform passes (the synthesized helm_release, Terraform
// tokens and all), for the default and the full-options configs, and the submission jobs `npm run generate`
// writes: every image comes from the grid's registry, each pod's fetch step names the S3 objects the stack
// uploads (bucket, key, version and content hash; the jobs through the client plan the stack keeps in the fetch
// ConfigMap), and every object validates against the Kubernetes schemas.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { renderSubmissionJobs, SUBMISSION_JOB_TEMPLATES } from "../../modules/agent/job-templates";
import { parseGridConfig } from "../../modules/config/load";
import type { GridConfig } from "../../modules/config/model";
import { parse } from "yaml";
import { renderChart, requireHelm } from "../agent/helm";
import { validateKubernetesObject } from "../agent/k8s-validate";
import { gridConfig, resourcesOf, synthApp, type TfBlock, type TfJson } from "../support/grid-synth";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** `<account>.dkr.ecr.<region>.<dns suffix>/` as the grid-k8s stack builds it (Terraform tokens). */
const GRID_REGISTRY =
  /^\$\{data\.aws_caller_identity\.[\w-]+\.account_id\}\.dkr\.ecr\.[a-z0-9-]+\.\$\{data\.aws_partition\.[\w-]+\.dns_suffix\}\//;

const fullOptions = () =>
  parseGridConfig(
    JSON.parse(readFileSync(join(__dirname, "../fixtures/full-options-config.json"), "utf8")),
    "full-options",
  );

/**
 * The values text as Terraform sees it is JSON only after Terraform evaluates its `${...}` interpolations (they may
 * hold quotes, e.g. `${filesha256("assets/...")}`). Escape the quotes inside each one, so the text parses as JSON
 * with every interpolation kept verbatim as a string.
 */
function jsonSafeInterpolations(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "$" && text[i + 1] === "{") {
      let depth = 0;
      let j = i + 1;
      for (; j < text.length; j++) {
        if (text[j] === "{") depth++;
        else if (text[j] === "}" && --depth === 0) break;
      }
      out += text
        .slice(i, j + 1)
        .replace(/\\/g, "\\\\")
        .replace(/"/g, '\\"');
      i = j;
    } else out += text[i];
  }
  return out;
}

/** Every container and init container of the pods the objects make (Deployment templates, Jobs, bare Pods). */
function podSpecs(objects: Obj[]): { owner: string; spec: Obj }[] {
  return objects.flatMap((o) => {
    if (o.kind === "Pod") return [{ owner: `Pod/${o.metadata.name}`, spec: o.spec }];
    if (o.spec?.template?.spec)
      return [{ owner: `${o.kind}/${o.metadata.name}`, spec: o.spec.template.spec }];
    return [];
  });
}
const containers = (spec: Obj): Obj[] => [...(spec.initContainers ?? []), ...spec.containers];

describe.each([
  ["default config", () => gridConfig()],
  ["full-options config", fullOptions],
])("agent pods, %s", (_name, makeConfig) => {
  let config: GridConfig;
  let k8s: TfJson;
  let values: Obj;
  let objects: Obj[];
  let deployment: Obj;

  beforeAll(() => {
    config = makeConfig();
    k8s = synthApp(config)["grid-k8s"];
    const release = Object.values(resourcesOf(k8s, "helm_release")).find(
      (r) => r.name === config.agent.name,
    )!;
    values = JSON.parse(jsonSafeInterpolations(release.values[0]));
    objects = renderChart(requireHelm(), values, ["--namespace", config.agent.namespace]);
    deployment = objects.find((o) => o.kind === "Deployment")!;
  });

  it("pulls every image of every pod from the grid's registry (through its pull-through cache)", () => {
    const pods = podSpecs(objects);
    expect(pods.map((p) => p.owner)).toEqual([
      `Deployment/${config.agent.name}`,
      `Pod/${config.agent.name}-test-submit`,
    ]);
    for (const { owner, spec } of pods) {
      for (const c of containers(spec)) {
        expect(c.image, `${owner} ${c.name}`).toMatch(GRID_REGISTRY);
        expect(c.image.replace(GRID_REGISTRY, ""), `${owner} ${c.name}`).toMatch(/^ecr-public\//);
      }
    }
  });

  it("fetches exactly the objects the stack uploads: bucket, key, version and content hash", () => {
    const fetch = deployment.spec.template.spec.initContainers.find((c: Obj) => c.name === "fetch");
    const plan = JSON.parse(fetch.args[0]);
    const uploads = resourcesOf(k8s, "aws_s3_object");
    expect(plan.objects.map((o: Obj) => o.key)).toEqual(["runtime/agent.js", "lambda.zip"]);
    expect(Object.values(uploads).map((u) => u.key)).toEqual([
      "runtime/agent.js",
      "runtime/client.js",
      "lambda.zip",
    ]);
    expectUploaded(plan.objects, uploads);
    expect(plan.objects[0].file).toBe("/opt/htc/runtime/agent.js");
    expect(plan.objects[1].unzip).toBe("/var/task");
  });

  it("has the helm test pod fetch exactly the uploaded client bundle, and run it", () => {
    const pod = objects.find((o) => o.kind === "Pod")!;
    const plan = JSON.parse(pod.spec.initContainers[0].args[0]);
    expect(plan.objects.map((o: Obj) => [o.key, o.file])).toEqual([
      ["runtime/client.js", "/opt/htc/runtime/client.js"],
    ]);
    expectUploaded(plan.objects, resourcesOf(k8s, "aws_s3_object"));
    expect(pod.spec.containers[0].command.slice(0, 2)).toEqual(["node", "/opt/htc/runtime/client.js"]);
    expect(pod.spec.serviceAccountName).toBe("htc-client-sa");
  });

  it("keeps the submission jobs' client plan in the fetch ConfigMap: the uploaded client bundle, exact version", () => {
    const maps = Object.values(resourcesOf(k8s, "kubernetes_config_map_v1"));
    const fetch = maps.find((m) => m.metadata.name === "htc-runtime-fetch")!;
    const plan = JSON.parse(jsonSafeInterpolations(fetch.data["client-plan.json"]));
    expect(plan.region).toBe(config.region);
    expect(plan.objects.map((o: Obj) => [o.key, o.file])).toEqual([
      ["runtime/client.js", "/opt/htc/runtime/client.js"],
    ]);
    expectUploaded(plan.objects, resourcesOf(k8s, "aws_s3_object"));
    // The same plan the helm test pod's fetch step runs.
    const pod = objects.find((o) => o.kind === "Pod")!;
    expect(plan).toEqual(JSON.parse(pod.spec.initContainers[0].args[0]));
  });

  it("mounts the fetch script from the ConfigMap the stack creates in the agents' namespace", () => {
    const maps = Object.values(resourcesOf(k8s, "kubernetes_config_map_v1"));
    const script = maps.find((m) => m.metadata.name === "htc-runtime-fetch")!;
    const volume = deployment.spec.template.spec.volumes.find((v: Obj) => v.name === "fetch-script");
    expect(volume.configMap.name).toBe(script.metadata.name);
    expect(script.data["fetch.js"]).toMatch(/^\$\{file\("assets\/[^"]*fetch-script[^"]*\/index\.js"\)\}$/);
    const namespace = script.metadata.namespace;
    if (config.agent.namespace === "default") expect(namespace).toBe("default");
    else expect(namespace).toMatch(/^\$\{kubernetes_namespace_v1\.[\w-]+\.metadata\[0\]\.name\}$/);
  });

  it("rolls the agents when an object they fetch or the fetch script changes, not when the client bundle does", () => {
    const revision = deployment.spec.template.metadata.annotations["htc-grid/runtime-revision"];
    expect(revision).toMatch(/^\$\{sha256\(join\("\\n", \[/);
    for (const [id, upload] of Object.entries(resourcesOf(k8s, "aws_s3_object"))) {
      if (upload.key === "runtime/client.js") expect(revision).not.toContain(`aws_s3_object.${id}.`);
      else expect(revision).toContain(`aws_s3_object.${id}.version_id`);
    }
    expect(revision).toMatch(/filesha256\("assets\/[^"]*fetch-script[^"]*\/index\.js"\)/);
  });

  it("assembles a pod spec that validates against the Kubernetes schemas", () => {
    for (const obj of objects) {
      expect(() => validateKubernetesObject(obj), `${obj.kind}/${obj.metadata.name}`).not.toThrow();
    }
  });
});

describe("submission jobs (npm run generate)", () => {
  let files: Record<string, string>;
  let k8s: TfJson;
  beforeAll(() => {
    files = renderSubmissionJobs({ accountId: "{{account_id}}", region: "eu-west-1" });
    k8s = synthApp(gridConfig())["grid-k8s"];
  });

  it("pull every image from the grid's registry (through its pull-through cache)", () => {
    expect(Object.keys(files)).toEqual(SUBMISSION_JOB_TEMPLATES.map((t) => `${t}.yaml`));
    for (const [name, text] of Object.entries(files)) {
      const job = parse(text) as Obj;
      for (const { spec } of podSpecs([job])) {
        for (const c of containers(spec)) {
          expect(c.image, `${name} ${c.name}`).toMatch(
            /^\{\{account_id\}\}\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/ecr-public\//,
          );
        }
      }
      expect(() => validateKubernetesObject(job), name).not.toThrow();
    }
  });

  it("run the stock Node.js image the agent chart's values name", () => {
    const release = Object.values(resourcesOf(k8s, "helm_release")).find((r) => r.name === "htc-agent")!;
    const values = JSON.parse(jsonSafeInterpolations(release.values[0]));
    const agentImage = values.agent.image.replace(GRID_REGISTRY, "");
    for (const text of Object.values(files)) {
      for (const c of containers((parse(text) as Obj).spec.template.spec))
        expect(c.image.replace(/^\{\{account_id\}\}\.dkr\.ecr\.eu-west-1\.amazonaws\.com\//, "")).toBe(
          agentImage,
        );
    }
  });

  it("read the fetch script and the client plan from the ConfigMap keys the stack writes", () => {
    const maps = Object.values(resourcesOf(k8s, "kubernetes_config_map_v1"));
    const fetch = maps.find((m) => m.metadata.name === "htc-runtime-fetch")!;
    for (const text of Object.values(files)) {
      const spec = (parse(text) as Obj).spec.template.spec;
      const volume = spec.volumes.find((v: Obj) => v.name === "fetch-script");
      expect(volume.configMap.name).toBe(fetch.metadata.name);
      for (const item of volume.configMap.items) expect(Object.keys(fetch.data)).toContain(item.key);
    }
  });
});

/** Each fetched object is one the stack uploads: bucket, key, exact version and content hash. */
function expectUploaded(fetched: Obj[], uploads: Record<string, TfBlock>): void {
  for (const object of fetched) {
    const [id, upload] = Object.entries(uploads).find(([, u]) => u.key === object.key) as [string, TfBlock];
    expect(object.bucket).toBe(upload.bucket);
    expect(object.bucket).toMatch(
      /^htc-workload-[a-z0-9-]+-\$\{data\.aws_caller_identity\.[\w-]+\.account_id\}-/,
    );
    expect(object.versionId).toBe(`\${aws_s3_object.${id}.version_id}`);
    expect(object.sha256).toBe(`\${filesha256("${upload.source}")}`);
    // Uploaded under the workload bucket's key (the bucket refuses any other).
    expect(upload.server_side_encryption).toBe("aws:kms");
    expect(upload.kms_key_id).toMatch(/^\$\{data\.aws_kms_alias\.[\w-]+\.target_key_arn\}$/);
    expect(upload.source_hash).toMatch(/^[A-F0-9]{32}$/);
  }
}

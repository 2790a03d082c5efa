// The submission jobs `npm run generate` writes: upstream's four tests, run by the grid's client (`htc`) on the
// stock Node.js image after the fetch step, as the client service account. What the shell of the cancel tests does
// is run for real in test/runtime/fetch/client-pod.test.ts.
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import {
  SUBMISSION_JOB_TEMPLATES,
  buildSubmissionJobs,
  renderSubmissionJobs,
} from "../../modules/agent/job-templates";
import { validateKubernetesObject } from "./k8s-validate";

const jobs = buildSubmissionJobs({ accountId: "021436251583", region: "eu-west-1" });
const NODE_IMAGE =
  "021436251583.dkr.ecr.eu-west-1.amazonaws.com/ecr-public/docker/library/node:22.23.2-bookworm-slim";

describe("submission job templates", () => {
  it("builds upstream's four test jobs", () => {
    expect(SUBMISSION_JOB_TEMPLATES).toEqual([
      "single-task-test",
      "batch-task-test",
      "cancel-many-small-tasks-test",
      "cancel-one-long-task-test",
    ]);
    expect(Object.values(jobs).map((job) => job.metadata.name)).toEqual([
      "single-task",
      "batch-task",
      "test-cancel-many-small-tasks",
      "test-cancel-one-long-task",
    ]);
  });

  it.each(SUBMISSION_JOB_TEMPLATES)("%s validates against the Kubernetes Job schema", (name) => {
    expect(() => validateKubernetesObject(jobs[name] as unknown as Record<string, unknown>)).not.toThrow();
  });

  it("the schema check rejects a broken Job (the validator is not a no-op)", () => {
    const broken = structuredClone(jobs["single-task-test"]) as unknown as {
      spec: { backoffLimit: unknown };
    };
    broken.spec.backoffLimit = "zero";
    expect(() => validateKubernetesObject(broken as unknown as Record<string, unknown>)).toThrow(
      /backoffLimit/,
    );
  });

  it.each(SUBMISSION_JOB_TEMPLATES)("%s is hardened and never retried", (name) => {
    const job = jobs[name];
    const pod = job.spec.template.spec;
    expect(job.spec.backoffLimit).toBe(0);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
    });
    for (const container of [...pod.initContainers, ...pod.containers]) {
      expect(container.securityContext).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        runAsUser: 1000,
        runAsGroup: 1000,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
      });
      // A read-only root filesystem: every container writes only to its own /tmp.
      expect(container.volumeMounts.map((m) => m.mountPath)).toContain("/tmp");
    }
  });

  it("runs on core nodes with the matching toleration", () => {
    const pod = jobs["batch-task-test"].spec.template.spec;
    expect(pod.nodeSelector).toEqual({ "htc/node-type": "core" });
    expect(pod.tolerations).toEqual([
      { key: "htc/node-type", operator: "Equal", value: "core", effect: "NoSchedule" },
    ]);
  });

  it("runs the fetch step and the client on the stock Node.js image, through the grid's registry", () => {
    for (const job of Object.values(jobs)) {
      const pod = job.spec.template.spec;
      expect([...pod.initContainers, ...pod.containers].map((c) => [c.name, c.image])).toEqual([
        ["fetch", NODE_IMAGE],
        ["generator", NODE_IMAGE],
      ]);
    }
    const china = buildSubmissionJobs({
      accountId: "1",
      region: "cn-north-1",
      dnsSuffix: "amazonaws.com.cn",
    });
    expect(china["single-task-test"].spec.template.spec.containers[0]!.image).toBe(
      "1.dkr.ecr.cn-north-1.amazonaws.com.cn/ecr-public/docker/library/node:22.23.2-bookworm-slim",
    );
  });

  it("fetches with the client plan the grid-k8s stack keeps in the fetch ConfigMap (no version in the Job)", () => {
    const pod = jobs["single-task-test"].spec.template.spec;
    const fetch = pod.initContainers[0]!;
    expect(fetch.command).toEqual([
      "node",
      "/opt/htc/fetch/fetch.js",
      "--plan-file",
      "/opt/htc/fetch/client-plan.json",
    ]);
    const volumes = Object.fromEntries(pod.volumes.map((v) => [v.name, v]));
    expect(volumes["fetch-script"]).toEqual({
      name: "fetch-script",
      configMap: {
        name: "htc-runtime-fetch",
        items: [
          { key: "fetch.js", path: "fetch.js" },
          { key: "client-plan.json", path: "client-plan.json" },
        ],
      },
    });
    expect(volumes["agent-config-public"]).toMatchObject({ configMap: { name: "agent-configmap" } });
    expect(volumes["agent-config-secret"]).toMatchObject({ secret: { secretName: "htc-agent-secrets" } });
    expect(fetch.volumeMounts.map((m) => m.mountPath)).toEqual([
      "/opt/htc/fetch",
      "/opt/htc/runtime",
      "/etc/agent",
      "/config/public",
      "/config/secret",
      "/tmp",
    ]);
  });

  it("runs as the client service account with the client labels (its IAM role and its NetworkPolicy)", () => {
    for (const job of Object.values(jobs)) {
      const pod = job.spec.template;
      expect(pod.spec.serviceAccountName).toBe("htc-client-sa");
      expect(pod.metadata.labels).toMatchObject({
        "app.kubernetes.io/name": "htc-client",
        "app.kubernetes.io/part-of": "htc-grid",
      });
    }
  });

  it("submits upstream's sizes through the private API with htc and waits for the results", () => {
    const command = (name: keyof typeof jobs) => jobs[name].spec.template.spec.containers[0]!.command;
    const htc = ["node", "/opt/htc/runtime/client.js"];
    expect(command("single-task-test")).toEqual([
      ...htc,
      ...["submit", "--count", "1", "--worker-args", "1000 1 1", "--wait", "--timeout", "3600"],
    ]);
    expect(command("batch-task-test")).toEqual([
      ...htc,
      ...["submit", "--count", "1000", "--worker-args", "2000 1 1", "--wait", "--timeout", "3600"],
    ]);
    const env = jobs["single-task-test"].spec.template.spec.containers[0]!.env;
    expect(env).toEqual(
      expect.arrayContaining([
        { name: "INTRA_VPC", value: "1" },
        { name: "AGENT_CONFIG_FILE", value: "/etc/agent/Agent_config.tfvars.json" },
      ]),
    );
  });

  it("runs upstream's cancel tests as htc submit, wait, htc cancel, then htc watch expecting cancelled tasks", () => {
    const script = (name: keyof typeof jobs) => {
      const [shell, flag, text] = jobs[name].spec.template.spec.containers[0]!.command;
      expect([shell, flag]).toEqual(["/bin/sh", "-c"]);
      return text!;
    };
    const many = script("cancel-many-small-tasks-test");
    expect(many).toContain('node /opt/htc/runtime/client.js submit --count 10 --worker-args "1000 1 1"');
    expect(many).toContain("sleep 2\n");
    expect(many).toContain('node /opt/htc/runtime/client.js cancel "$session"');
    expect(many).toContain('node /opt/htc/runtime/client.js watch "$session" --tasks 10');
    expect(many).toContain('if [ "$code" -eq 11 ]');
    const long = script("cancel-one-long-task-test");
    expect(long).toContain('submit --count 1 --worker-args "120000 1 1"');
    expect(long).toContain("sleep 30\n");
  });

  it("renders one YAML file per template that parses back to the same Job", () => {
    const files = renderSubmissionJobs({ accountId: "{{account_id}}", region: "{{region}}" });
    expect(Object.keys(files)).toEqual(SUBMISSION_JOB_TEMPLATES.map((n) => `${n}.yaml`));
    for (const name of SUBMISSION_JOB_TEMPLATES) {
      expect(parse(files[`${name}.yaml`]!)).toEqual(
        buildSubmissionJobs({ accountId: "{{account_id}}", region: "{{region}}" })[name],
      );
    }
    const parsed = parse(files["single-task-test.yaml"]!);
    expect(parsed.spec.template.spec.containers[0].image).toBe(
      "{{account_id}}.dkr.ecr.{{region}}.amazonaws.com/ecr-public/docker/library/node:22.23.2-bookworm-slim",
    );
    const secret = parsed.spec.template.spec.volumes.find(
      (v: { name: string }) => v.name === "agent-config-secret",
    );
    expect(secret.secret.defaultMode).toBe(0o440);
  });
});

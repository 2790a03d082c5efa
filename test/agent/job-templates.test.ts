import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import {
  ASSEMBLE_CONFIG_SCRIPT,
  SUBMISSION_JOB_TEMPLATES,
  buildSubmissionJobs,
  renderSubmissionJobs,
} from "../../modules/agent/job-templates";
import { CHART_DIR } from "./helm";
import { validateKubernetesObject } from "./k8s-validate";

const jobs = buildSubmissionJobs({ accountId: "021436251583", region: "eu-west-1", imageTag: "main" });

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
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
      });
    }
  });

  it("runs on core nodes with the matching toleration", () => {
    const pod = jobs["batch-task-test"].spec.template.spec;
    expect(pod.nodeSelector).toEqual({ "htc/node-type": "core" });
    expect(pod.tolerations).toEqual([
      { key: "htc/node-type", operator: "Equal", value: "core", effect: "NoSchedule" },
    ]);
  });

  it("uses the submitter image of the account, region and tag", () => {
    const images = jobs["single-task-test"].spec.template.spec.containers.map((c) => c.image);
    expect(images).toEqual(["021436251583.dkr.ecr.eu-west-1.amazonaws.com/submitter:main"]);
    const china = buildSubmissionJobs({
      accountId: "1",
      region: "cn-north-1",
      imageTag: "t",
      dnsSuffix: "amazonaws.com.cn",
    });
    expect(china["single-task-test"].spec.template.spec.containers[0]!.image).toBe(
      "1.dkr.ecr.cn-north-1.amazonaws.com.cn/submitter:t",
    );
  });

  it("submits through the private API with the assembled configuration file", () => {
    const pod = jobs["single-task-test"].spec.template.spec;
    expect(pod.containers[0]!.env).toEqual(
      expect.arrayContaining([
        { name: "INTRA_VPC", value: "1" },
        { name: "AGENT_CONFIG_FILE", value: "/etc/agent/Agent_config.tfvars.json" },
      ]),
    );
    expect(pod.containers[0]!.command).toEqual([
      "python3",
      "client.py",
      "-n",
      "1",
      "--worker_arguments",
      "1000 1 1",
      "--job_size",
      "1",
      "--job_batch_size",
      "1",
      "--log",
      "warning",
    ]);
    const volumes = Object.fromEntries(pod.volumes.map((v) => [v.name, v]));
    expect(volumes["agent-config-public"]).toMatchObject({ configMap: { name: "agent-configmap" } });
    expect(volumes["agent-config-secret"]).toMatchObject({ secret: { secretName: "htc-agent-secrets" } });
  });

  it("renders one YAML file per template that parses back to the same Job", () => {
    const files = renderSubmissionJobs({
      accountId: "{{account_id}}",
      region: "{{region}}",
      imageTag: "{{image_tag}}",
    });
    expect(Object.keys(files)).toEqual(SUBMISSION_JOB_TEMPLATES.map((n) => `${n}.yaml`));
    const parsed = parse(files["single-task-test.yaml"]!);
    expect(parsed.spec.template.spec.containers[0].image).toBe(
      "{{account_id}}.dkr.ecr.{{region}}.amazonaws.com/submitter:{{image_tag}}",
    );
    expect(parsed.spec.template.spec.volumes[2].secret.defaultMode).toBe(0o440);
  });
});

describe("configuration assembly script", () => {
  it("is the same script the chart runs", () => {
    expect(ASSEMBLE_CONFIG_SCRIPT).toBe(readFileSync(join(CHART_DIR, "files/assemble-config.py"), "utf8"));
    expect(ASSEMBLE_CONFIG_SCRIPT).toContain("json.dump(config, f)");
  });

  it("merges the ConfigMap JSON with one file per secret field into a file only its owner and group read", () => {
    const dir = mkdtempSync(join(tmpdir(), "assemble-config-"));
    try {
      mkdirSync(join(dir, "secret"));
      writeFileSync(
        join(dir, "public.json"),
        JSON.stringify({ region: "eu-west-1", agent_task_visibility_timeout_sec: 3600 }),
      );
      writeFileSync(join(dir, "secret", "redis_password"), "p@ss\nword");
      writeFileSync(join(dir, "secret", "api_gateway_key"), "key-123");
      const target = join(dir, "Agent_config.tfvars.json");
      execFileSync(
        "python3",
        [
          "-c",
          ASSEMBLE_CONFIG_SCRIPT,
          join(dir, "public.json"),
          join(dir, "secret"),
          target,
          "redis_password",
          "api_gateway_key",
        ],
        {
          timeout: 10_000,
        },
      );
      expect(JSON.parse(readFileSync(target, "utf8"))).toEqual({
        region: "eu-west-1",
        agent_task_visibility_timeout_sec: 3600,
        redis_password: "p@ss\nword",
        api_gateway_key: "key-123",
      });
      expect(statSync(target).mode & 0o777).toBe(0o440);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fails when a secret field is missing from the Secret", () => {
    const dir = mkdtempSync(join(tmpdir(), "assemble-config-"));
    try {
      mkdirSync(join(dir, "secret"));
      writeFileSync(join(dir, "public.json"), "{}");
      expect(() =>
        execFileSync(
          "python3",
          [
            "-c",
            ASSEMBLE_CONFIG_SCRIPT,
            join(dir, "public.json"),
            join(dir, "secret"),
            join(dir, "out.json"),
            "api_gateway_key",
          ],
          {
            stdio: "pipe",
            timeout: 10_000,
          },
        ),
      ).toThrow(/api_gateway_key/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

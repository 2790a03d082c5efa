// Kubernetes Jobs that submit test workloads through the grid (upstream examples/submissions/k8s_jobs),
// written to generated/<template>.yaml by the generate command. They read the same assembled agent
// configuration as the agents (ConfigMap + Secret merged in an init container), run on core nodes
// and are hardened the same way as the chart's pods.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { findRepoRoot } from "../runtime-bundle/bundle";
import {
  AGENT_CONFIG_FILE_NAME,
  AGENT_CONFIG_MAP_NAME,
  AGENT_CONFIG_MOUNT_PATH,
  AGENT_SECRET_FIELDS,
  AGENT_SECRET_NAME,
} from "./agent-config";

/**
 * Merges the public JSON with one file per secret field into the target file (mode 0440): the chart's own
 * script (charts/htc-agent/files/assemble-config.py), so agents and jobs assemble the file the same way.
 */
export const ASSEMBLE_CONFIG_SCRIPT = readFileSync(
  join(findRepoRoot(), "charts", "htc-agent", "files", "assemble-config.py"),
  "utf8",
);

/** Inputs of the job templates; the generate command passes literals or `{{placeholders}}`. */
export interface SubmissionJobInputs {
  readonly accountId: string;
  readonly region: string;
  /** Tag of the submitter image (the grid's project name). */
  readonly imageTag: string;
  /** Registry prefix. @default "<accountId>.dkr.ecr.<region>.<dnsSuffix>" */
  readonly imageRegistry?: string;
  /** @default "amazonaws.com" */
  readonly dnsSuffix?: string;
  /** Namespace of the Jobs; must be the one holding the ConfigMap and Secret. @default undefined (kubectl's current namespace) */
  readonly namespace?: string;
}

/** A Job template as upstream names it (file name stem), with its Job name and submitter command. */
const TEMPLATES = {
  "single-task-test": {
    jobName: "single-task",
    command: [
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
    ],
  },
  "batch-task-test": {
    jobName: "batch-task",
    // 100 jobs of 10 tasks: 1000 tasks of 2 s each.
    command: [
      "python3",
      "client.py",
      "-n",
      "1",
      "--worker_arguments",
      "2000 1 1",
      "--job_size",
      "100",
      "--job_batch_size",
      "10",
      "--log",
      "warning",
    ],
  },
  "cancel-many-small-tasks-test": {
    jobName: "test-cancel-many-small-tasks",
    command: ["python3", "cancel_tasks.py", "--test_cancel_many_small_tasks", "1"],
  },
  "cancel-one-long-task-test": {
    jobName: "test-cancel-one-long-task",
    command: ["python3", "cancel_tasks.py", "--test_cancel_one_long_task", "1"],
  },
} as const;

export type SubmissionJobTemplate = keyof typeof TEMPLATES;
export const SUBMISSION_JOB_TEMPLATES = Object.keys(TEMPLATES) as SubmissionJobTemplate[];

/** Same settings as the chart's `containerSecurityContext`. */
const CONTAINER_SECURITY_CONTEXT = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};

/**
 * The chart's `podSecurityContext` plus the numeric user the submitter image is built for (upstream's runs as
 * 65534), so `runAsNonRoot` holds whatever the image's USER says.
 */
const POD_SECURITY_CONTEXT = {
  runAsNonRoot: true,
  runAsUser: 65534,
  runAsGroup: 65534,
  fsGroup: 1000,
  seccompProfile: { type: "RuntimeDefault" },
};

const CONFIG_FILE = `${AGENT_CONFIG_MOUNT_PATH}/${AGENT_CONFIG_FILE_NAME}`;

function submissionJob(name: SubmissionJobTemplate, image: string, namespace: string | undefined) {
  const template = TEMPLATES[name];
  const labels = {
    "app.kubernetes.io/name": "htc-submitter",
    "app.kubernetes.io/part-of": "htc-grid",
    "htc-grid/test": name,
  };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: template.jobName, ...(namespace === undefined ? {} : { namespace }), labels },
    spec: {
      // A failed test must show up as a failed Job, not be retried into a pass.
      backoffLimit: 0,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          securityContext: POD_SECURITY_CONTEXT,
          nodeSelector: { "htc/node-type": "core" },
          tolerations: [{ key: "htc/node-type", operator: "Equal", value: "core", effect: "NoSchedule" }],
          initContainers: [
            {
              name: "assemble-config",
              image,
              imagePullPolicy: "Always",
              command: [
                "python3",
                "-c",
                ASSEMBLE_CONFIG_SCRIPT,
                `/config/public/${AGENT_CONFIG_FILE_NAME}`,
                "/config/secret",
                CONFIG_FILE,
                ...AGENT_SECRET_FIELDS,
              ],
              securityContext: CONTAINER_SECURITY_CONTEXT,
              resources: {
                requests: { cpu: "10m", memory: "32Mi" },
                limits: { cpu: "100m", memory: "64Mi" },
              },
              volumeMounts: [
                { name: "agent-config", mountPath: AGENT_CONFIG_MOUNT_PATH },
                { name: "agent-config-public", mountPath: "/config/public", readOnly: true },
                { name: "agent-config-secret", mountPath: "/config/secret", readOnly: true },
              ],
            },
          ],
          containers: [
            {
              name: "generator",
              image,
              imagePullPolicy: "Always",
              command: [...template.command],
              env: [
                // Submit through the private API (API key from the assembled configuration).
                { name: "INTRA_VPC", value: "1" },
                { name: "AGENT_CONFIG_FILE", value: CONFIG_FILE },
                { name: "HOME", value: "/tmp" },
              ],
              securityContext: CONTAINER_SECURITY_CONTEXT,
              resources: {
                requests: { cpu: "100m", memory: "128Mi" },
                limits: { cpu: "500m", memory: "256Mi" },
              },
              volumeMounts: [
                { name: "agent-config", mountPath: AGENT_CONFIG_MOUNT_PATH, readOnly: true },
                { name: "tmp", mountPath: "/tmp" },
              ],
            },
          ],
          volumes: [
            { name: "agent-config", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
            {
              name: "agent-config-public",
              configMap: {
                name: AGENT_CONFIG_MAP_NAME,
                items: [{ key: AGENT_CONFIG_FILE_NAME, path: AGENT_CONFIG_FILE_NAME }],
              },
            },
            {
              name: "agent-config-secret",
              secret: {
                secretName: AGENT_SECRET_NAME,
                defaultMode: 0o440,
                items: AGENT_SECRET_FIELDS.map((key) => ({ key, path: key })),
              },
            },
            { name: "tmp", emptyDir: {} },
          ],
        },
      },
    },
  };
}

export type SubmissionJob = ReturnType<typeof submissionJob>;

/** Builds every submission Job, keyed by template name (the generated file's stem). */
export function buildSubmissionJobs(
  inputs: SubmissionJobInputs,
): Record<SubmissionJobTemplate, SubmissionJob> {
  const registry =
    inputs.imageRegistry ??
    `${inputs.accountId}.dkr.ecr.${inputs.region}.${inputs.dnsSuffix ?? "amazonaws.com"}`;
  const image = `${registry}/submitter:${inputs.imageTag}`;
  return Object.fromEntries(
    SUBMISSION_JOB_TEMPLATES.map((name) => [name, submissionJob(name, image, inputs.namespace)]),
  ) as Record<SubmissionJobTemplate, SubmissionJob>;
}

/** The same Jobs as YAML documents, keyed by file name (`<template>.yaml`). */
export function renderSubmissionJobs(inputs: SubmissionJobInputs): Record<string, string> {
  const jobs = buildSubmissionJobs(inputs);
  return Object.fromEntries(
    SUBMISSION_JOB_TEMPLATES.map((name) => [`${name}.yaml`, stringify(jobs[name], { lineWidth: 0 })]),
  );
}

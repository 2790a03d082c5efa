// Kubernetes Jobs that submit test workloads through the grid (upstream examples/submissions/k8s_jobs), written to
// generated/<template>.yaml by the generate command. They run the grid's client (`htc`) the way the agent pods run
// the agent: on the stock Node.js image through the grid's registry, after a fetch step that downloads the client
// bundle and assembles the agent configuration from the ConfigMap and the Secret. They are written before any
// deploy, so they name no object version: the fetch step reads the plan the grid-k8s stack keeps in the fetch
// ConfigMap (exact version and SHA-256 of the uploaded `runtime/client.js`). They run as the client service account
// (EKS Pod Identity: read the client bundle and the data plane, nothing else), carry the client labels (the chart's
// client NetworkPolicy fences them), run on core nodes and are hardened the same way as the chart's pods.
import { stringify } from "yaml";
import { stockImageReference } from "../images/stock-images";
import { FETCH_CONFIG_MAP_NAME, FETCH_SCRIPT_KEY } from "../runtime-delivery/runtime-delivery";
import {
  AGENT_CONFIG_FILE_NAME,
  AGENT_CONFIG_MAP_NAME,
  AGENT_CONFIG_MOUNT_PATH,
  AGENT_SECRET_FIELDS,
  AGENT_SECRET_NAME,
} from "./agent-config";
import {
  CLIENT_FETCH_PLAN_KEY,
  CLIENT_POD_LABELS,
  CLIENT_SERVICE_ACCOUNT_NAME,
  POD_CONFIG_FILE,
  POD_PATHS,
  STOCK_POD_USER,
  clientCommand,
  submitAndWaitArgs,
  type TestSubmission,
} from "./pod-layout";

/** Inputs of the job templates; the generate command passes literals or `{{placeholders}}`. */
export interface SubmissionJobInputs {
  readonly accountId: string;
  readonly region: string;
  /** The grid's registry (its pull-through cache serves the Node.js image). @default "<accountId>.dkr.ecr.<region>.<dnsSuffix>" */
  readonly imageRegistry?: string;
  /** @default "amazonaws.com" */
  readonly dnsSuffix?: string;
  /** Namespace of the Jobs; must be the one holding the ConfigMaps and the Secret. @default undefined (kubectl's current namespace) */
  readonly namespace?: string;
}

/** Upstream's client gives up on a session after an hour (TASK_TIMEOUT_SEC); so does `htc` here. */
const SESSION_TIMEOUT_SEC = 3600;

/** `htc` in a shell line (the cancel tests chain several commands; the Node.js image has /bin/sh). */
const HTC = clientCommand([]).join(" ");

/**
 * Upstream's cancel tests (examples/client/python/cancel_tasks.py), with `htc`: submit, wait, cancel the session,
 * then follow it to the end. Upstream only printed the answers; here the Job succeeds only when every task ended and
 * some were cancelled (`htc watch` exit 11), so a cancel that did nothing fails the Job.
 */
function cancelTestScript(test: { count: number; workerArgs: string; waitSec: number }): string[] {
  return [
    "/bin/sh",
    "-c",
    [
      "set -u",
      `session=$(${HTC} submit --count ${test.count} --worker-args "${test.workerArgs}") || exit`,
      `sleep ${test.waitSec}`,
      `${HTC} cancel "$session" || exit`,
      `${HTC} watch "$session" --tasks ${test.count} --timeout 300`,
      "code=$?",
      'if [ "$code" -eq 11 ]; then echo "htc: session $session: cancelled as expected"; exit 0; fi',
      'echo "htc: session $session: expected cancelled tasks (htc watch exit 11), got exit $code" >&2',
      "exit 1",
    ].join("\n"),
  ];
}

function submitTest(test: TestSubmission): string[] {
  return clientCommand(submitAndWaitArgs(test));
}

/** A Job template as upstream names it (file name stem), with its Job name and command. */
const TEMPLATES = {
  "single-task-test": {
    jobName: "single-task",
    // Upstream: client.py -n 1 --worker_arguments "1000 1 1" --job_size 1 --job_batch_size 1.
    command: submitTest({ count: 1, workerArgs: "1000 1 1", timeoutSec: SESSION_TIMEOUT_SEC }),
  },
  "batch-task-test": {
    jobName: "batch-task",
    // Upstream: 100 jobs of 10 tasks, 1,000 tasks of 2 s each; `htc` submits them as one session.
    command: submitTest({ count: 1000, workerArgs: "2000 1 1", timeoutSec: SESSION_TIMEOUT_SEC }),
  },
  "cancel-many-small-tasks-test": {
    jobName: "test-cancel-many-small-tasks",
    // Upstream: 10 tasks of 1 s, cancel the session after 2 s.
    command: cancelTestScript({ count: 10, workerArgs: "1000 1 1", waitSec: 2 }),
  },
  "cancel-one-long-task-test": {
    jobName: "test-cancel-one-long-task",
    // Upstream: one task of 120 s, cancel it after 30 s (while an agent runs it).
    command: cancelTestScript({ count: 1, workerArgs: "120000 1 1", waitSec: 30 }),
  },
} as const;

export type SubmissionJobTemplate = keyof typeof TEMPLATES;
export const SUBMISSION_JOB_TEMPLATES = Object.keys(TEMPLATES) as SubmissionJobTemplate[];

/** Same settings as the chart's `containerSecurityContext`, as the stock image's user. */
const CONTAINER_SECURITY_CONTEXT = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  runAsUser: STOCK_POD_USER,
  runAsGroup: STOCK_POD_USER,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};

/** The chart's `podSecurityContext`: fsGroup owns the shared volumes (the configuration file is 0440). */
const POD_SECURITY_CONTEXT = {
  runAsNonRoot: true,
  fsGroup: STOCK_POD_USER,
  seccompProfile: { type: "RuntimeDefault" },
};

/** The fetch script and the client plan, both from the fetch ConfigMap the grid-k8s stack writes. */
const FETCH_SCRIPT_FILE = `${POD_PATHS.fetchScript}/${FETCH_SCRIPT_KEY}`;
const FETCH_PLAN_FILE = `${POD_PATHS.fetchScript}/${CLIENT_FETCH_PLAN_KEY}`;

function submissionJob(name: SubmissionJobTemplate, image: string, namespace: string | undefined) {
  const template = TEMPLATES[name];
  const labels = { ...CLIENT_POD_LABELS, "htc-grid/test": name };
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
          serviceAccountName: CLIENT_SERVICE_ACCOUNT_NAME,
          // The client calls no Kubernetes API; EKS Pod Identity injects its own token.
          automountServiceAccountToken: false,
          securityContext: POD_SECURITY_CONTEXT,
          nodeSelector: { "htc/node-type": "core" },
          tolerations: [{ key: "htc/node-type", operator: "Equal", value: "core", effect: "NoSchedule" }],
          initContainers: [
            {
              name: "fetch",
              image,
              imagePullPolicy: "IfNotPresent",
              command: ["node", FETCH_SCRIPT_FILE, "--plan-file", FETCH_PLAN_FILE],
              env: [
                { name: "HOME", value: "/tmp" },
                { name: "TMPDIR", value: "/tmp" },
                { name: "AWS_STS_REGIONAL_ENDPOINTS", value: "regional" },
              ],
              securityContext: CONTAINER_SECURITY_CONTEXT,
              resources: {
                requests: { cpu: "50m", memory: "64Mi" },
                limits: { cpu: "500m", memory: "256Mi" },
              },
              volumeMounts: [
                { name: "fetch-script", mountPath: POD_PATHS.fetchScript, readOnly: true },
                { name: "runtime", mountPath: POD_PATHS.runtime },
                { name: "agent-config", mountPath: AGENT_CONFIG_MOUNT_PATH },
                { name: "agent-config-public", mountPath: POD_PATHS.configPublic, readOnly: true },
                { name: "agent-config-secret", mountPath: POD_PATHS.configSecret, readOnly: true },
                { name: "fetch-tmp", mountPath: "/tmp" },
              ],
            },
          ],
          containers: [
            {
              // Upstream's container name.
              name: "generator",
              image,
              imagePullPolicy: "IfNotPresent",
              command: [...template.command],
              env: [
                // Submit through the private API (API key from the assembled configuration).
                { name: "INTRA_VPC", value: "1" },
                { name: "AGENT_CONFIG_FILE", value: POD_CONFIG_FILE },
                { name: "HOME", value: "/tmp" },
                { name: "AWS_STS_REGIONAL_ENDPOINTS", value: "regional" },
              ],
              securityContext: CONTAINER_SECURITY_CONTEXT,
              // Measured with Node.js 20: 111 MB resident for one task, 155 MB for 1,000 with their outputs.
              resources: {
                requests: { cpu: "100m", memory: "192Mi" },
                limits: { cpu: "500m", memory: "384Mi" },
              },
              volumeMounts: [
                { name: "agent-config", mountPath: AGENT_CONFIG_MOUNT_PATH, readOnly: true },
                { name: "runtime", mountPath: POD_PATHS.runtime, readOnly: true },
                { name: "tmp", mountPath: "/tmp" },
              ],
            },
          ],
          volumes: [
            {
              name: "fetch-script",
              configMap: {
                name: FETCH_CONFIG_MAP_NAME,
                items: [
                  { key: FETCH_SCRIPT_KEY, path: FETCH_SCRIPT_KEY },
                  { key: CLIENT_FETCH_PLAN_KEY, path: CLIENT_FETCH_PLAN_KEY },
                ],
              },
            },
            { name: "runtime", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
            { name: "fetch-tmp", emptyDir: {} },
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
  // The same image the agents and the fetch step run, through the grid's pull-through cache.
  const image = stockImageReference(registry, "node");
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

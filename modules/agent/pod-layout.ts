// Where things live in the grid's pods (agent pods, the `helm test` pod and the submission jobs), the service
// accounts they run as, and the fetch plan of a client pod. Pure: shared by the chart values, the job templates
// `npm run generate` writes, the grid-k8s stack (the client plan in the fetch ConfigMap) and the grid stack (the
// Pod Identity roles name the service accounts).
import type { DeliveredObject } from "../runtime-delivery/runtime-delivery";
import {
  AGENT_CONFIG_FILE_NAME,
  AGENT_CONFIG_MOUNT_PATH,
  AGENT_SECRET_FIELDS,
} from "../../runtime/src/contract";

/**
 * Where things live in a pod. The fetch step writes the runtime bundles, the worker's task root and the assembled
 * configuration; the agent, the worker and the client read them.
 */
export const POD_PATHS = {
  /** Runtime bundles (`agent.js`, `client.js`), an in-memory emptyDir. */
  runtime: "/opt/htc/runtime",
  /** The fetch script (ConfigMap), and the client pods' fetch plan next to it. */
  fetchScript: "/opt/htc/fetch",
  /** The worker's code, unpacked from the zip (Lambda's task root). */
  taskRoot: "/var/task",
  /** ConfigMap JSON and Secret fields the fetch step merges. */
  configPublic: "/config/public",
  configSecret: "/config/secret",
} as const;

/**
 * One user for every container of a stock pod: the agent restarts a stuck worker by killing its emulator process
 * (shared process namespace), which only works within one user. 1000 is the Node.js image's `node` user; the
 * Lambda base images run as whoever starts them.
 */
export const STOCK_POD_USER = 1000;

/** Service account of the agent pods; the agent IAM role trusts exactly this name. */
export const AGENT_SERVICE_ACCOUNT_NAME = "htc-agent-sa";
/**
 * Service account of the client pods (submission jobs, the `helm test` pod); the client IAM role trusts exactly
 * this name. The agent chart creates it next to the agents' one.
 */
export const CLIENT_SERVICE_ACCOUNT_NAME = "htc-client-sa";

/** Labels every client pod carries: the chart's client NetworkPolicy selects them. */
export const CLIENT_POD_LABELS = {
  "app.kubernetes.io/name": "htc-client",
  "app.kubernetes.io/part-of": "htc-grid",
} as const;

/** The client bundle in a client pod (the fetch step writes it; the container runs `node` on it). */
export const CLIENT_BUNDLE_PATH = `${POD_PATHS.runtime}/client.js`;
/** The assembled agent configuration every pod reads. */
export const POD_CONFIG_FILE = `${AGENT_CONFIG_MOUNT_PATH}/${AGENT_CONFIG_FILE_NAME}`;

/**
 * Key of the client pods' fetch plan in the fetch ConfigMap (next to `fetch.js`). The submission jobs are written
 * before any deploy, so they cannot name the client bundle's version: they read this plan, which the grid-k8s stack
 * writes with the exact version and SHA-256 of the upload.
 */
export const CLIENT_FETCH_PLAN_KEY = "client-plan.json";

/** How the fetch step assembles the configuration file from the ConfigMap's JSON and the Secret's fields. */
export function configAssembly() {
  return {
    public: `${POD_PATHS.configPublic}/${AGENT_CONFIG_FILE_NAME}`,
    secrets: POD_PATHS.configSecret,
    keys: [...AGENT_SECRET_FIELDS],
    target: POD_CONFIG_FILE,
  };
}

/** One object of a fetch plan: exactly this upload (version and SHA-256), written to a file or unpacked. */
export function fetchObject(o: DeliveredObject, target: { file: string } | { unzip: string }) {
  return { bucket: o.bucket, key: o.key, versionId: o.versionId, sha256: o.sha256, ...target };
}

/** Inputs of `clientFetchPlan`; strings are usually Terraform tokens. */
export interface ClientFetchPlanInputs {
  readonly region: string;
  readonly dnsSuffix: string;
  /** The uploaded client bundle (`runtime/client.js`). */
  readonly clientBundle: DeliveredObject;
}

/** A client pod's fetch plan: the client bundle (exact version, SHA-256 checked) and the configuration file. */
export function clientFetchPlan(inputs: ClientFetchPlanInputs) {
  return {
    region: inputs.region,
    dnsSuffix: inputs.dnsSuffix,
    objects: [fetchObject(inputs.clientBundle, { file: CLIENT_BUNDLE_PATH })],
    config: configAssembly(),
  };
}

/** A client pod's command: `node /opt/htc/runtime/client.js <htc arguments>`. */
export function clientCommand(htcArgs: readonly string[]): string[] {
  return ["node", CLIENT_BUNDLE_PATH, ...htcArgs];
}

/** What a submission test sends: N copies of upstream's `{"worker_arguments": [...]}`. */
export interface TestSubmission {
  readonly count: number;
  /** Upstream's `--worker_arguments`: delay (ms), RAM (GB), iterations (millions) for the mock compute engine. */
  readonly workerArgs: string;
  /** Seconds `htc` waits for the results before it gives up (exit 6). */
  readonly timeoutSec: number;
}

/** `htc submit --count N --worker-args "..." --wait --timeout T`: submit one session, print its results. */
export function submitAndWaitArgs(test: TestSubmission): string[] {
  return [
    "submit",
    "--count",
    String(test.count),
    "--worker-args",
    test.workerArgs,
    "--wait",
    "--timeout",
    String(test.timeoutSec),
  ];
}

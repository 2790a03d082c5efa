// Code, not images: the runtime bundles the pods run (the agent; the client of the submission jobs and the `helm
// test` pod) and the worker zip are uploaded by Terraform into the workload bucket (SSE-KMS under the workload key,
// versioned), and the pods' fetch step downloads exactly those versions at start. The fetch step's own script ships
// in a ConfigMap (it cannot come from S3: it is what reads S3), with the fetch plans of pods that cannot carry their
// own (the submission jobs). Each object's version id and SHA-256 go into the pod spec or the plan, so a changed
// agent bundle rolls the agents.
import * as fs from "node:fs";
import * as path from "node:path";
import { Construct } from "constructs";
import { AssetType, Fn, TerraformAsset } from "cdktf";
import { S3Object } from "@cdktf/provider-aws/lib/s3-object";
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { bundleRuntime, type RuntimeBundle } from "../runtime-bundle/bundle";
import { scratchDir } from "../runtime-bundle/scratch";
import { cachedZip } from "../runtime-bundle/zip";
import { WORKER_ZIP_KEY } from "../state-bootstrap/workload";

/**
 * Runtime bundles uploaded for the pods, each as `runtime/<name>.js`: the agent, and the client (`htc`) that the
 * submission jobs and the `helm test` pod run.
 */
export const POD_RUNTIME_BUNDLES = ["agent", "client"] as const satisfies readonly RuntimeBundle[];
export type PodRuntimeBundle = (typeof POD_RUNTIME_BUNDLES)[number];

/** The bundles the agent pods run: only these (with the worker zip and the fetch script) roll the agents. */
export const AGENT_POD_BUNDLES: readonly PodRuntimeBundle[] = ["agent"];

/** Key of a runtime bundle in the workload bucket. */
export function runtimeBundleKey(name: string): string {
  return `runtime/${name}.js`;
}

/** The built-in worker: the mock compute engine, a Node.js handler (`index.handler`). */
export const BUILTIN_WORKER_BUNDLE: RuntimeBundle = "mock-compute-engine";

/** ConfigMap holding the fetch step's script; agent pods and submission jobs mount it. */
export const FETCH_CONFIG_MAP_NAME = "htc-runtime-fetch";
export const FETCH_SCRIPT_KEY = "fetch.js";

/** One object the fetch step downloads; strings are usually Terraform tokens. */
export interface DeliveredObject {
  readonly bucket: string;
  readonly key: string;
  /** Exact version to fetch; "" = the current one (a user's s3:// zip). */
  readonly versionId: string;
  /** Expected SHA-256 (hex); "" = not checked (a user's s3:// zip). */
  readonly sha256: string;
}

/** Where the worker zip comes from. */
export type WorkerSource =
  | { readonly kind: "builtin" }
  | { readonly kind: "local"; readonly path: string }
  | { readonly kind: "s3"; readonly uri: string };

export interface RuntimeDeliveryProps {
  /** The bootstrap stack's workload bucket (name derived, not read across stacks). */
  readonly bucketName: string;
  /** ARN of the workload bucket's key: every upload is SSE-KMS under it. */
  readonly kmsKeyArn: string;
  readonly worker: WorkerSource;
  /** Namespace of the agents (the ConfigMap lives next to them). */
  readonly namespace: string;
  /** Bundles to upload. @default POD_RUNTIME_BUNDLES */
  readonly bundles?: readonly RuntimeBundle[];
  /**
   * Fetch plans to store next to the fetch script, by ConfigMap key, built from the uploads (for pods whose manifest
   * cannot name an upload's version, such as the generated submission jobs). @default none
   */
  readonly fetchPlans?: (delivered: DeliveredCode) => Record<string, unknown>;
}

/** What the delivery uploaded (or, for a user's s3:// zip, names). */
export interface DeliveredCode {
  readonly bundles: Readonly<Record<string, DeliveredObject>>;
  readonly workerZip: DeliveredObject;
}

/** Splits `s3://bucket/key`. */
function splitS3Uri(uri: string): { bucket: string; key: string } {
  const rest = uri.slice("s3://".length);
  const slash = rest.indexOf("/");
  return { bucket: rest.slice(0, slash), key: rest.slice(slash + 1) };
}

export class RuntimeDelivery extends Construct {
  /** Uploaded runtime bundles by name. */
  public readonly bundles: Readonly<Record<string, DeliveredObject>>;
  /** The worker zip (uploaded, or the user's s3:// object as is). */
  public readonly workerZip: DeliveredObject;
  /** The fetch step's script, in a ConfigMap. */
  public readonly fetchConfigMap: ConfigMapV1;
  /** SHA-256 of the fetch script (a Terraform expression). */
  public readonly fetchScriptSha256: string;
  /**
   * Changes whenever what the agent pods fetch changes (the fetch script, the AGENT_POD_BUNDLES and the worker zip):
   * rolls the agents. A new client bundle does not.
   */
  public readonly revision: string;

  constructor(scope: Construct, id: string, props: RuntimeDeliveryProps) {
    super(scope, id);
    const upload = (objectId: string, file: string, key: string, contentType: string): DeliveredObject => {
      const asset = new TerraformAsset(this, `${objectId}-asset`, { path: file, type: AssetType.FILE });
      const object = new S3Object(this, objectId, {
        bucket: props.bucketName,
        key,
        source: asset.path,
        // Content hash of the file: a new bundle uploads a new version, an unchanged one nothing.
        sourceHash: asset.assetHash,
        serverSideEncryption: "aws:kms",
        kmsKeyId: props.kmsKeyArn,
        bucketKeyEnabled: true,
        contentType,
      });
      // Bucket and key as written (readable in the plan); the version id ties the pods to this upload.
      return {
        bucket: props.bucketName,
        key,
        versionId: object.versionId,
        sha256: Fn.filesha256(asset.path),
      };
    };

    const bundles: Record<string, DeliveredObject> = {};
    for (const name of props.bundles ?? POD_RUNTIME_BUNDLES) {
      const dir = scratchDir(name);
      bundleRuntime(name, dir);
      bundles[name] = upload(
        `bundle-${name}`,
        path.join(dir, "index.js"),
        runtimeBundleKey(name),
        "text/javascript",
      );
    }
    this.bundles = bundles;

    const worker = props.worker;
    if (worker.kind === "s3") {
      // The user's object, used as is: its version is whatever is current when a pod starts.
      this.workerZip = { ...splitS3Uri(worker.uri), versionId: "", sha256: "" };
    } else {
      let file = worker.kind === "local" ? worker.path : "";
      if (worker.kind === "builtin") {
        const dir = scratchDir(BUILTIN_WORKER_BUNDLE);
        bundleRuntime(BUILTIN_WORKER_BUNDLE, dir);
        file = path.join(scratchDir(`${BUILTIN_WORKER_BUNDLE}-zip`), "lambda.zip");
        fs.writeFileSync(file, cachedZip(dir));
      }
      this.workerZip = upload("worker-zip", file, WORKER_ZIP_KEY, "application/zip");
    }

    const fetchDir = scratchDir("fetch");
    bundleRuntime("fetch", fetchDir);
    const fetchScript = new TerraformAsset(this, "fetch-script", {
      path: path.join(fetchDir, "index.js"),
      type: AssetType.FILE,
    });
    this.fetchScriptSha256 = Fn.filesha256(fetchScript.path);
    this.fetchConfigMap = new ConfigMapV1(this, "fetch-config-map", {
      metadata: {
        name: FETCH_CONFIG_MAP_NAME,
        namespace: props.namespace,
        labels: { "app.kubernetes.io/part-of": "htc-grid" },
      },
      data: {
        [FETCH_SCRIPT_KEY]: Fn.file(fetchScript.path),
        // JSON.stringify, not Fn.jsonencode: the plans' strings are copied verbatim with their tokens.
        ...Object.fromEntries(
          Object.entries(props.fetchPlans?.({ bundles, workerZip: this.workerZip }) ?? {}).map(
            ([key, plan]) => [key, JSON.stringify(plan)],
          ),
        ),
      },
    });

    // Keys, versions and hashes (the bucket is the grid's own and never changes; a user's s3:// zip counts by URI).
    const parts = [
      this.fetchScriptSha256,
      ...Object.entries(bundles)
        .filter(([name]) => (AGENT_POD_BUNDLES as readonly string[]).includes(name))
        .flatMap(([, o]) => [o.key, o.versionId, o.sha256]),
      ...(worker.kind === "s3"
        ? [worker.uri]
        : [this.workerZip.key, this.workerZip.versionId, this.workerZip.sha256]),
    ];
    this.revision = Fn.sha256(Fn.join("\n", parts));
  }
}

// In-cluster side of the agents: the ConfigMap `agent-configmap` (non-secret fields), the Secret with the Redis
// AUTH token and the private API key (read from Secrets Manager for each run through ephemeral resources and
// written through write-only arguments, so neither value is in this stack's state), the code the pods fetch
// (runtime bundles and the worker zip in the workload bucket; the fetch script and the client pods' fetch plan in a
// ConfigMap), and the htc-agent chart (agents, the client pods' service account, NetworkPolicies and `helm test`
// pod) shipped as a TerraformAsset so the stack folder is self-contained.
import * as path from "node:path";
import { findRepoRoot } from "../runtime-bundle/bundle";
import { Construct } from "constructs";
import { AssetType, Fn, TerraformAsset, TerraformIterator, Token, type ITerraformDependable } from "cdktf";
import { DataAwsSecretsmanagerSecretVersions } from "@cdktf/provider-aws/lib/data-aws-secretsmanager-secret-versions";
import { Release } from "@cdktf/provider-helm/lib/release";
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import type { GridConfig } from "../config/model";
import { ephemeralSecretString } from "../ephemeral/ephemeral-resource";
import { AGENT_CONFIG_FILE_NAME, AGENT_CONFIG_MAP_NAME, AGENT_SECRET_NAME } from "./agent-config";
import {
  FETCH_CONFIG_MAP_NAME,
  RuntimeDelivery,
  type WorkerSource,
} from "../runtime-delivery/runtime-delivery";
import { agentChartValues } from "./chart-values";
import { CLIENT_FETCH_PLAN_KEY, clientFetchPlan } from "./pod-layout";

/** The chart folder in this repository (absolute: Terraform never gets a relative path). */
export function agentChartDir(): string {
  return path.join(findRepoRoot(), "charts", "htc-agent");
}

export interface AgentReleaseProps {
  readonly config: GridConfig;
  /** JSON of the public agent configuration (the grid stack's document). */
  readonly agentConfigJson: string;
  /** ARN of the secret holding the Redis AUTH token (REDIS and S3+REDIS). */
  readonly redisAuthSecretArn?: string;
  /** ARN of the secret holding the private API key. */
  readonly apiKeySecretArn: string;
  /** The grid account's registry, `<account>.dkr.ecr.<region>.<dns suffix>`: stock images come through its cache. */
  readonly gridRegistry: string;
  /** DNS suffix of the partition. */
  readonly dnsSuffix: string;
  /** The bootstrap stack's workload bucket and its key: where the pods' code is uploaded. */
  readonly workloadBucketName: string;
  readonly workloadKeyArn: string;
  /** Suffixed name of the backlog metric scaling_metrics publishes. */
  readonly scalingMetricName: string;
  /** Releases the agents need first (KEDA provides the ScaledObject CRD). */
  readonly dependsOn?: ITerraformDependable[];
}

export class AgentRelease extends Construct {
  public readonly configMap: ConfigMapV1;
  /** The code the pods fetch: uploaded objects and the fetch script's ConfigMap. */
  public readonly delivery: RuntimeDelivery;
  public readonly secret: SecretV1;
  public readonly release: Release;

  constructor(scope: Construct, id: string, props: AgentReleaseProps) {
    super(scope, id);
    const { config } = props;
    const namespace = config.agent.namespace;
    const needsNamespace = !["default", "kube-system"].includes(namespace);
    const ns = needsNamespace
      ? new NamespaceV1(this, "namespace", {
          metadata: { name: namespace, labels: { "app.kubernetes.io/part-of": "htc-grid" } },
        })
      : undefined;
    const nsName = ns ? ns.metadata.name : namespace;

    this.configMap = new ConfigMapV1(this, "config-map", {
      metadata: { name: AGENT_CONFIG_MAP_NAME, namespace: nsName },
      data: { [AGENT_CONFIG_FILE_NAME]: props.agentConfigJson },
    });
    // Secret values are read from Secrets Manager for this run only and written write-only: they are in no
    // state, ConfigMap, output or generated file. The Secret is rewritten when a secret's current version changes
    // (its version id, which is no secret, is read with the versions' metadata).
    const apiKey = ephemeralSecretString(this, "api-key", props.apiKeySecretArn);
    const redisToken = props.redisAuthSecretArn
      ? ephemeralSecretString(this, "redis-auth-token", props.redisAuthSecretArn)
      : "";
    const secretIds = [
      props.apiKeySecretArn,
      ...(props.redisAuthSecretArn ? [props.redisAuthSecretArn] : []),
    ];
    const currentVersionIds = secretIds.map((secretId, i) => {
      const versions = new DataAwsSecretsmanagerSecretVersions(this, `secret-versions-${i}`, { secretId });
      return Fn.join(
        ",",
        Token.asList(
          TerraformIterator.fromList(versions.getListAttribute("versions")).forExpressionForList(
            'val.version_id if contains(val.version_stages, "AWSCURRENT")',
          ),
        ),
      );
    });
    const secretVersions = Fn.join(";", currentVersionIds);
    this.secret = new SecretV1(this, "secret", {
      metadata: { name: AGENT_SECRET_NAME, namespace: nsName },
      type: "Opaque",
      dataWo: { redis_password: redisToken, api_gateway_key: apiKey },
      dataWoRevision: Fn.parseint(Fn.substr(Fn.sha256(secretVersions), 0, 12), 16),
    });

    const lambda = config.agent.lambda;
    const worker: WorkerSource =
      lambda.s3Source !== undefined
        ? { kind: "s3", uri: lambda.s3Source }
        : lambda.localZip !== undefined
          ? { kind: "local", path: lambda.localZip }
          : { kind: "builtin" };
    this.delivery = new RuntimeDelivery(this, "delivery", {
      bucketName: props.workloadBucketName,
      kmsKeyArn: props.workloadKeyArn,
      worker,
      namespace: nsName,
      // The submission jobs are written before any deploy: they read the client bundle's exact version from here.
      fetchPlans: (delivered) => ({
        [CLIENT_FETCH_PLAN_KEY]: clientFetchPlan({
          region: config.region,
          dnsSuffix: props.dnsSuffix,
          clientBundle: delivered.bundles.client,
        }),
      }),
    });

    const chart = new TerraformAsset(this, "chart", { path: agentChartDir(), type: AssetType.DIRECTORY });
    const values = agentChartValues({
      region: config.region,
      agent: config.agent,
      metrics: config.controlPlane.metrics,
      network: { vpcCidr: config.network.vpcCidr, redis: config.dataPlane.storage !== "S3" },
      resources: {
        gridRegistry: props.gridRegistry,
        dnsSuffix: props.dnsSuffix,
        delivery: {
          agentBundle: this.delivery.bundles.agent,
          clientBundle: this.delivery.bundles.client,
          workerZip: this.delivery.workerZip,
          // The literal name (the release depends on the ConfigMap explicitly).
          fetchConfigMap: FETCH_CONFIG_MAP_NAME,
          revision: this.delivery.revision,
        },
        clusterName: config.clusterName,
        scalingMetricName: props.scalingMetricName,
        // Pods read the file only at start: a content hash in the pod template rolls them on change.
        configRevision: Fn.sha256(Fn.join("\n", [props.agentConfigJson, secretVersions])),
      },
    });
    this.release = new Release(this, "release", {
      name: config.agent.name,
      chart: chart.path,
      namespace: nsName,
      // JSON is YAML; JSON.stringify escapes every string (cdktf's HCL object rendering does not).
      values: [JSON.stringify(values)],
      atomic: true,
      wait: true,
      cleanupOnFail: true,
      timeout: 600,
      dependsOn: [this.configMap, this.secret, this.delivery.fetchConfigMap, ...(props.dependsOn ?? [])],
    });
  }
}

// In-cluster side of the agents: the ConfigMap `agent-configmap` (non-secret fields), the Secret with the Redis
// AUTH token and the private API key (read from Secrets Manager for each run through ephemeral resources and
// written through write-only arguments, so neither value is in this stack's state), and the htc-agent chart
// shipped as a TerraformAsset so the stack folder is self-contained.
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
import { agentChartValues } from "./chart-values";

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
  /** `<account>.dkr.ecr.<region>.<dns suffix>`. */
  readonly defaultImageRegistry: string;
  /** `s3://bucket/key` of the worker zip. */
  readonly workerZipLocation: string;
  /** Suffixed name of the backlog metric scaling_metrics publishes. */
  readonly scalingMetricName: string;
  /** Releases the agents need first (KEDA provides the ScaledObject CRD). */
  readonly dependsOn?: ITerraformDependable[];
}

export class AgentRelease extends Construct {
  public readonly configMap: ConfigMapV1;
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

    const chart = new TerraformAsset(this, "chart", { path: agentChartDir(), type: AssetType.DIRECTORY });
    const values = agentChartValues({
      region: config.region,
      agent: config.agent,
      metrics: config.controlPlane.metrics,
      resources: {
        defaultImageRegistry: props.defaultImageRegistry,
        defaultLambdaS3Source: props.workerZipLocation,
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
      dependsOn: [this.configMap, this.secret, ...(props.dependsOn ?? [])],
    });
  }
}

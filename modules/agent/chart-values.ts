// Values for the htc-agent chart (charts/htc-agent) built from the typed grid configuration. Pure: the
// in-cluster stack passes the result to its helm_release; resource references arrive as strings.
import type { AgentConfig, ControlPlaneConfig } from "../config/model";
import {
  AGENT_CONFIG_FILE_NAME,
  AGENT_CONFIG_MAP_NAME,
  AGENT_CONFIG_MOUNT_PATH,
  AGENT_SECRET_FIELDS,
  AGENT_SECRET_NAME,
} from "./agent-config";

/** Service account of the agent pods; the agent IAM role trusts exactly this name. */
export const AGENT_SERVICE_ACCOUNT_NAME = "htc-agent-sa";

/** Deployed resources the values refer to; strings (usually Terraform tokens), copied as is. */
export interface AgentChartResources {
  /** ECR registry used when `agent.ecrRegistry` is not set (`<account>.dkr.ecr.<region>.<dns suffix>`). */
  readonly defaultImageRegistry: string;
  /** Worker zip used when `agent.lambda.s3Source` is not set (the bootstrap workload bucket's lambda.zip). */
  readonly defaultLambdaS3Source: string;
  /** Dimension value of the scaling metric: the EKS cluster name. */
  readonly clusterName: string;
  /** Suffixed scaling metric name (`pending_tasks_ddb-<tag>`). */
  readonly scalingMetricName: string;
  /** Agent IAM role for IRSA; leave undefined when EKS Pod Identity associates the role instead. */
  readonly agentRoleArn?: string;
  /** Changes whenever the ConfigMap or Secret content changes (e.g. a hash); rolls the agents. */
  readonly configRevision?: string;
}

/** Inputs of `agentChartValues`. */
export interface AgentChartInputs {
  readonly region: string;
  readonly agent: AgentConfig;
  readonly metrics: Pick<ControlPlaneConfig["metrics"], "namespace" | "dimensionName">;
  readonly resources: AgentChartResources;
  /** How KEDA authenticates to CloudWatch (see charts/htc-agent/values.yaml `scaling.kedaAuth`). @default "triggerAuthentication" */
  readonly kedaAuth?: "triggerAuthentication" | "operatorMetadata";
}

interface ResourceBounds {
  readonly cpuRequestMilli: number;
  readonly cpuLimitMilli: number;
  readonly memoryRequestMi: number;
  readonly memoryLimitMi: number;
}

/**
 * Container requests/limits with Kubernetes suffixes (`m`, `Mi`). The config layer guarantees positive whole numbers
 * and requests within limits (upstream's defaults asked for 4096 Mi with a 3900 Mi limit, which the API server
 * refuses).
 */
function containerResources(b: ResourceBounds) {
  return {
    requests: { cpu: `${b.cpuRequestMilli}m`, memory: `${b.memoryRequestMi}Mi` },
    limits: { cpu: `${b.cpuLimitMilli}m`, memory: `${b.memoryLimitMi}Mi` },
  };
}

/** Builds the complete values object of the htc-agent chart from a config the config layer has checked. */
export function agentChartValues(inputs: AgentChartInputs) {
  const { agent, resources: r } = inputs;
  return {
    fullnameOverride: agent.name,
    terminationGracePeriodSeconds: agent.gracefulTerminationDelaySec,
    imageRegistry: agent.ecrRegistry ?? r.defaultImageRegistry,
    agent: {
      image: { repository: agent.agent.repository, tag: agent.agent.tag, pullPolicy: agent.agent.pullPolicy },
      resources: containerResources(agent.agent),
    },
    lambda: {
      image: { repository: agent.lambda.image.repository, pullPolicy: agent.lambda.image.pullPolicy },
      runtime: agent.lambda.runtime,
      handler: agent.lambda.handler,
      functionName: agent.lambda.functionName,
      s3Source: agent.lambda.s3Source ?? r.defaultLambdaS3Source,
      // The bucket's real region; upstream left the chart default (eu-west-1) in place.
      region: inputs.region,
      resources: containerResources(agent.lambda),
    },
    getLayer: { image: { ...agent.getLayer } },
    agentConfig: {
      configMapName: AGENT_CONFIG_MAP_NAME,
      configMapKey: AGENT_CONFIG_FILE_NAME,
      secretName: AGENT_SECRET_NAME,
      secretKeys: [...AGENT_SECRET_FIELDS],
      mountPath: AGENT_CONFIG_MOUNT_PATH,
      fileName: AGENT_CONFIG_FILE_NAME,
      revision: r.configRevision ?? "",
    },
    serviceAccount: {
      create: true,
      name: AGENT_SERVICE_ACCOUNT_NAME,
      roleArn: r.agentRoleArn ?? "",
    },
    scaling: {
      enabled: true,
      minAgents: agent.minAgents,
      maxAgents: agent.maxAgents,
      targetValue: agent.targetValue,
      region: inputs.region,
      metric: {
        namespace: inputs.metrics.namespace,
        dimensionName: inputs.metrics.dimensionName,
        dimensionValue: r.clusterName,
        name: r.scalingMetricName,
      },
      kedaAuth: inputs.kedaAuth ?? "triggerAuthentication",
    },
    test: { image: { ...agent.test } },
  };
}

/** The values object `agentChartValues` returns. */
export type AgentChartValues = ReturnType<typeof agentChartValues>;

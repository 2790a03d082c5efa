// Values for the htc-agent chart (charts/htc-agent) built from the typed grid configuration. Pure: the
// in-cluster stack passes the result to its helm_release; resource references arrive as strings.
import type { AgentConfig, ControlPlaneConfig, ImageRef } from "../config/model";
import { WORKER_RUNTIMES, stockImageReference } from "../images/stock-images";
import type { DeliveredObject } from "../runtime-delivery/runtime-delivery";
import {
  AGENT_CONFIG_FILE_NAME,
  AGENT_CONFIG_MAP_NAME,
  AGENT_CONFIG_MOUNT_PATH,
  AGENT_SECRET_FIELDS,
  AGENT_SECRET_NAME,
} from "./agent-config";
import {
  AGENT_SERVICE_ACCOUNT_NAME,
  CLIENT_POD_LABELS,
  CLIENT_SERVICE_ACCOUNT_NAME,
  POD_PATHS,
  STOCK_POD_USER,
  clientCommand,
  clientFetchPlan,
  configAssembly,
  fetchObject,
  submitAndWaitArgs,
  type TestSubmission,
} from "./pod-layout";

export { AGENT_SERVICE_ACCOUNT_NAME, POD_PATHS, STOCK_POD_USER };

/**
 * The `helm test` pod's submission: upstream's test (one task of 1 s through the private API), waited for at most
 * as long as `helm test` waits by default (5 minutes).
 */
export const HELM_TEST_SUBMISSION: TestSubmission = { count: 1, workerArgs: "1000 1 1", timeoutSec: 300 };
/** The same test with upstream's submitter image (agent_configuration.test). */
const UPSTREAM_TEST_COMMAND = [
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
] as const;

/** Users upstream's custom images are built for (agent and submitter: nobody; runtime and lambda-init: 99). */
const CUSTOM_IMAGE_USERS = { agent: 65534, lambda: 99, getLayer: 99, test: 65534 } as const;

/** Process names of the worker runtime the agent kills after a cancelled task (HTC_WORKER_PROCESS_NAMES). */
export const WORKER_PROCESS_NAMES = ["aws-lambda-rie"] as const;

/** What the fetch step downloads, as the delivery construct made it; strings are usually Terraform tokens. */
export interface AgentDelivery {
  /** The agent bundle (`runtime/agent.js`). */
  readonly agentBundle: DeliveredObject;
  /** The client bundle (`runtime/client.js`), which the `helm test` pod runs. */
  readonly clientBundle: DeliveredObject;
  readonly workerZip: DeliveredObject;
  /** ConfigMap holding the fetch script. */
  readonly fetchConfigMap: string;
  /** Changes with what the agent pods fetch (agent bundle, worker zip, fetch script). */
  readonly revision: string;
}

/** Deployed resources the values refer to; strings (usually Terraform tokens), copied as is. */
export interface AgentChartResources {
  /** The grid account's ECR registry (`<account>.dkr.ecr.<region>.<dns suffix>`): stock images come through its cache. */
  readonly gridRegistry: string;
  /** DNS suffix of the partition (`amazonaws.com`). */
  readonly dnsSuffix: string;
  readonly delivery: AgentDelivery;
  /** Dimension value of the scaling metric: the EKS cluster name. */
  readonly clusterName: string;
  /** Suffixed scaling metric name (`pending_tasks_ddb-<tag>`). */
  readonly scalingMetricName: string;
  /** Agent IAM role for IRSA; leave undefined when EKS Pod Identity associates the role instead. */
  readonly agentRoleArn?: string;
  /** Changes whenever the ConfigMap or Secret content changes (e.g. a hash); rolls the agents. */
  readonly configRevision?: string;
}

/** What the agents' and the client pods' NetworkPolicies let them reach besides DNS, HTTPS and the Pod Identity agent. */
export interface AgentNetwork {
  /** The VPC's range (Redis lives there). */
  readonly vpcCidr: string;
  /** The data plane includes Redis (REDIS or S3+REDIS). */
  readonly redis: boolean;
}

/** EKS Pod Identity's credentials agent, on every node's link-local address (IPv4). */
export const POD_IDENTITY_AGENT = { cidr: "169.254.170.23/32", port: 80 } as const;
/** ElastiCache's port. */
const REDIS_PORT = 6379;

/** Inputs of `agentChartValues`. */
export interface AgentChartInputs {
  readonly region: string;
  readonly agent: AgentConfig;
  readonly metrics: Pick<ControlPlaneConfig["metrics"], "namespace" | "dimensionName">;
  readonly resources: AgentChartResources;
  /** The agents' NetworkPolicy. */
  readonly network: AgentNetwork;
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

  const customRegistry = agent.ecrRegistry ?? r.gridRegistry;
  const custom = (image: ImageRef, tag = image.tag) => `${customRegistry}/${image.repository}:${tag}`;
  const node = stockImageReference(r.gridRegistry, "node");
  const stockAgent = agent.agent.image === undefined;
  const workerRuntime = WORKER_RUNTIMES[agent.lambda.runtime];
  // The config layer only accepts a runtime without a stock image together with a custom worker image.
  const stockWorker = agent.lambda.image === undefined;
  // The `helm test` pod runs the grid's client unless upstream's submitter image is configured.
  const stockTest = agent.test === undefined;
  const agentFile = `${POD_PATHS.runtime}/agent.js`;
  // The fetch step's plan: the agent bundle (stock agent), the worker zip (unless upstream's get-layer container
  // downloads it) and the configuration file.
  const fetchPlan = {
    region: inputs.region,
    dnsSuffix: r.dnsSuffix,
    objects: [
      ...(stockAgent ? [fetchObject(r.delivery.agentBundle, { file: agentFile })] : []),
      ...(agent.getLayer === undefined
        ? [fetchObject(r.delivery.workerZip, { unzip: POD_PATHS.taskRoot })]
        : []),
    ],
    config: configAssembly(),
  };
  const user = (kind: keyof typeof CUSTOM_IMAGE_USERS, isStock: boolean) =>
    isStock ? STOCK_POD_USER : CUSTOM_IMAGE_USERS[kind];

  return {
    fullnameOverride: agent.name,
    terminationGracePeriodSeconds: agent.gracefulTerminationDelaySec,
    agent: {
      image: stockAgent ? node : custom(agent.agent.image!),
      pullPolicy: agent.agent.pullPolicy,
      // The stock image runs the fetched bundle; upstream's image keeps its own entrypoint.
      command: stockAgent ? ["node", agentFile] : [],
      stock: stockAgent,
      workerProcessNames: WORKER_PROCESS_NAMES.join(","),
      runAsUser: user("agent", stockAgent),
      resources: containerResources(agent.agent),
    },
    lambda: {
      image: stockWorker
        ? stockImageReference(r.gridRegistry, workerRuntime!.image)
        : custom(agent.lambda.image!),
      pullPolicy: agent.lambda.pullPolicy,
      command: stockWorker ? [...(workerRuntime!.command ?? [])] : [],
      handler: agent.lambda.handler,
      functionName: agent.lambda.functionName,
      runAsUser: user("lambda", stockWorker),
      resources: containerResources(agent.lambda),
    },
    fetch: {
      image: node,
      pullPolicy: "IfNotPresent",
      runAsUser: STOCK_POD_USER,
      configMapName: r.delivery.fetchConfigMap,
      plan: fetchPlan,
      // The test pod: the client bundle (exact version) and the configuration file; upstream's submitter image
      // only needs the configuration file.
      testPlan: stockTest
        ? clientFetchPlan({
            region: inputs.region,
            dnsSuffix: r.dnsSuffix,
            clientBundle: r.delivery.clientBundle,
          })
        : { region: inputs.region, dnsSuffix: r.dnsSuffix, objects: [], config: configAssembly() },
      revision: r.delivery.revision,
    },
    getLayer: {
      enabled: agent.getLayer !== undefined,
      image: agent.getLayer ? custom(agent.getLayer) : "",
      pullPolicy: agent.getLayer?.pullPolicy ?? "IfNotPresent",
      runAsUser: CUSTOM_IMAGE_USERS.getLayer,
      s3Source: `s3://${r.delivery.workerZip.bucket}/${r.delivery.workerZip.key}`,
      // The bucket's real region; upstream left the chart default (eu-west-1) in place.
      region: inputs.region,
    },
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
    // The client pods (the `helm test` pod here; the generated submission jobs carry the same labels and service
    // account): their identity and their NetworkPolicy's selector.
    client: {
      serviceAccount: { create: true, name: CLIENT_SERVICE_ACCOUNT_NAME },
      podLabels: { ...CLIENT_POD_LABELS },
    },
    networkPolicy: {
      enabled: true,
      vpcCidr: inputs.network.vpcCidr,
      podIdentityAgentCidr: POD_IDENTITY_AGENT.cidr,
      podIdentityAgentPort: POD_IDENTITY_AGENT.port,
      redis: { enabled: inputs.network.redis, port: REDIS_PORT },
    },
    test: {
      enabled: true,
      image: stockTest ? node : custom(agent.test!),
      pullPolicy: agent.test?.pullPolicy ?? "IfNotPresent",
      // One task through the private API, waited for: the fetched client, or upstream's client.py.
      command: stockTest
        ? clientCommand(submitAndWaitArgs(HELM_TEST_SUBMISSION))
        : [...UPSTREAM_TEST_COMMAND],
      runAsUser: user("test", stockTest),
    },
  };
}

/** The values object `agentChartValues` returns. */
export type AgentChartValues = ReturnType<typeof agentChartValues>;

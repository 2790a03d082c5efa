// KEDA: scales the agent Deployment on the grid's backlog metric (CloudWatch) or the task queues' depth. The
// operator reads both with its own Pod Identity role; ScaledObjects use `podIdentity.provider: aws` with the
// operator as identity owner.
import { Construct } from "constructs";
import { Release } from "@cdktf/provider-helm/lib/release";
import { CORE_PLACEMENT } from "../compute-plane/node-groups";
import { type PolicyDocument, PodIdentityRole } from "../compute-plane/pod-identity-role";
import type { GridNames } from "../naming/names";
import { RELEASE_DEFAULTS } from "./release-defaults";
import { cachedImageValues } from "./addon-images";
import { helmValues, mergeValues } from "./values";
import { ADDON_IMAGES, ADDON_VERSIONS } from "./versions";

export const KEDA_NAMESPACE = "keda";
export const KEDA_OPERATOR_SERVICE_ACCOUNT = "keda-operator";

export interface KedaProps {
  /** Literal cluster name. */
  readonly clusterName: string;
  /** ARNs of the task queues KEDA may read the depth of. @default [] */
  readonly taskQueueArns: string[];
  /** `k8s_keda_version` override of the chart version. */
  readonly chartVersionOverride?: string;
  readonly names: GridNames;
  /** ECR registry whose pull-through cache serves ghcr.io. */
  readonly registry: string;
}

export class Keda extends Construct {
  public readonly role: PodIdentityRole;
  public readonly release: Release;

  constructor(scope: Construct, id: string, props: KedaProps) {
    super(scope, id);
    this.role = new PodIdentityRole(this, "role", {
      clusterName: props.clusterName,
      namespace: KEDA_NAMESPACE,
      serviceAccount: KEDA_OPERATOR_SERVICE_ACCOUNT,
      roleName: props.names.name("iamRole", "keda-operator"),
      description: `KEDA operator of ${props.clusterName}`,
      inlinePolicies: { keda: kedaPolicy(props.taskQueueArns) },
    });
    const chart = ADDON_VERSIONS.keda;
    this.release = new Release(this, "release", {
      name: "keda",
      repository: chart.repository,
      chart: chart.chart,
      version: props.chartVersionOverride ?? chart.chartVersion,
      namespace: KEDA_NAMESPACE,
      createNamespace: true,
      ...RELEASE_DEFAULTS,
      values: [
        helmValues(
          mergeValues(cachedImageValues(props.registry, ADDON_IMAGES.keda), {
            serviceAccount: { operator: { create: true, name: KEDA_OPERATOR_SERVICE_ACCOUNT } },
            // EKS Pod Identity needs no service-account annotation; IRSA stays off.
            podIdentity: { aws: { irsa: { enabled: false } } },
            securityContext: { operator: { runAsNonRoot: true } },
            ...CORE_PLACEMENT,
          }),
        ),
      ],
      dependsOn: [this.role.role, ...this.role.policies, this.role.association!],
    });
  }
}

/** CloudWatch metric reads (no resource-level permissions exist for them) and queue attributes of the grid's queues. */
export function kedaPolicy(taskQueueArns: string[]): PolicyDocument {
  const statements: Record<string, unknown>[] = [
    {
      // GetMetricData/GetMetricStatistics/ListMetrics do not support resource-level permissions: "*" is required.
      Sid: "ReadScalingMetrics",
      Effect: "Allow",
      Action: ["cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics"],
      Resource: "*",
    },
  ];
  if (taskQueueArns.length > 0) {
    statements.push({
      Sid: "ReadTaskQueueDepth",
      Effect: "Allow",
      Action: ["sqs:GetQueueAttributes"],
      Resource: taskQueueArns,
    });
  }
  return { Version: "2012-10-17", Statement: statements };
}

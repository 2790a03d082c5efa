// Everything the grid-k8s stack installs before the agents: cluster-autoscaler, KEDA and (optionally) monitoring.
// No aws-load-balancer-controller: nothing in the grid needs an ALB; Grafana, when exposed, uses a Service of type
// LoadBalancer (NLB) restricted to grafana_allowed_cidrs, otherwise `kubectl port-forward`.
import { Construct } from "constructs";
import type { AccountContext } from "../account/account-context";
import type { ComputePlaneConfig } from "../config/model";
import type { GridNames } from "../naming/names";
import { ClusterAutoscaler } from "./cluster-autoscaler";
import { Keda } from "./keda";
import { Monitoring } from "./monitoring";

export interface ClusterAddonsProps {
  /** Literal cluster name (`config.clusterName`). */
  readonly clusterName: string;
  readonly region: string;
  readonly compute: ComputePlaneConfig;
  /** The agents' termination grace (`config.agent.gracefulTerminationDelaySec`). */
  readonly agentGracefulTerminationSec: number;
  /** ARNs of the task queues (one per priority). */
  readonly taskQueueArns: string[];
  /** KMS key for the Grafana admin secret (keys.secrets). @default aws/secretsmanager */
  readonly secretsKmsKeyArn?: string;
  readonly account: AccountContext;
  readonly names: GridNames;
}

export class ClusterAddons extends Construct {
  public readonly clusterAutoscaler: ClusterAutoscaler;
  public readonly keda: Keda;
  /** Present when `enable_monitoring` is true. */
  public readonly monitoring?: Monitoring;

  constructor(scope: Construct, id: string, props: ClusterAddonsProps) {
    super(scope, id);
    const { compute } = props;
    this.clusterAutoscaler = new ClusterAutoscaler(this, "cluster-autoscaler", {
      clusterName: props.clusterName,
      region: props.region,
      imageTag: compute.clusterAutoscalerImageTag,
      maxGracefulTerminationSec: props.agentGracefulTerminationSec,
      account: props.account,
      names: props.names,
    });
    this.keda = new Keda(this, "keda", {
      clusterName: props.clusterName,
      taskQueueArns: props.taskQueueArns,
      chartVersionOverride: compute.kedaChartVersion,
      names: props.names,
    });
    if (compute.monitoring.enabled) {
      this.monitoring = new Monitoring(this, "monitoring", {
        grafanaAllowedCidrs: compute.monitoring.grafanaAllowedCidrs,
        secretsKmsKeyArn: props.secretsKmsKeyArn,
        names: props.names,
      });
    }
  }
}

// The agent chart's values as the grid builds them for a config, with the delivered objects a test uploaded to its
// local S3 (the pod tests render the chart with these, then run what it renders).

import { agentChartValues, type AgentDelivery } from "../../../modules/agent/chart-values";
import type { gridConfig } from "../../support/grid-synth";

export function localChartValues(
  config: ReturnType<typeof gridConfig>,
  delivery: Omit<AgentDelivery, "fetchConfigMap" | "revision">,
) {
  return agentChartValues({
    region: config.region,
    agent: config.agent,
    metrics: config.controlPlane.metrics,
    network: { vpcCidr: config.network.vpcCidr, redis: false },
    resources: {
      gridRegistry: "000000000000.dkr.ecr.eu-west-1.amazonaws.com",
      dnsSuffix: "amazonaws.com",
      delivery: { ...delivery, fetchConfigMap: "htc-runtime-fetch", revision: "r1" },
      clusterName: config.clusterName,
      scalingMetricName: "pending_tasks_ddb-main",
    },
  });
}

// The layout of a grid on one machine, derived from the same normalized grid configuration the stacks use: the
// physical names come from the one naming helper, so the local table, queues and bucket are named exactly as
// Terraform names them, with the same priorities, storage mode, retry limit and agent timings.
import type { GridConfig } from "../config/model";
import { agentTimings } from "../agent/agent-config";
import { GridNames } from "../naming/names";
import type { LocalGridLayout } from "../../runtime/src/local/grid";
import { LOCAL_ACCOUNT_ID } from "../../runtime/src/local/servers";

export function localGridLayout(config: GridConfig): LocalGridLayout {
  const names = new GridNames(config.projectName);
  const cp = config.controlPlane;
  return {
    projectName: config.projectName,
    region: config.region,
    stateTable: names.name("dynamodbTable", cp.stateTable.baseName),
    queueBase: names.name("sqsQueue", cp.taskQueue.baseName),
    dlqBase: names.name("sqsQueue", cp.taskQueue.dlqBaseName),
    taskQueueService: cp.taskQueue.service,
    priorities: cp.taskQueue.priorities,
    visibilityTimeoutSec: cp.taskQueue.visibilityTimeoutSec,
    maxReceiveCount: cp.taskQueue.maxReceiveCount,
    maxRetries: cp.taskQueue.maxRetries,
    storage: config.dataPlane.storage,
    redisExpirationSec: config.dataPlane.redisExpirationHours * 3600,
    bucket: names.bucketName(config.dataBucketBaseName, LOCAL_ACCOUNT_ID, config.region),
    errorLogGroup: names.name("logGroup", cp.errorLogGroup),
    errorLogStream: names.name("logGroup", cp.errorLoggingStream),
    externalStorage: cp.taskInputPassedViaExternalStorage,
    apiStage: cp.apiStageName,
    clusterName: config.clusterName,
    stateTableConfig: cp.stateTable.sdkConfig,
    metrics: {
      namespace: cp.metrics.namespace,
      dimensionName: cp.metrics.dimensionName,
      name: names.name("generic", cp.metrics.name),
    },
    tuning: agentTimings(config.agent.tuning),
  };
}

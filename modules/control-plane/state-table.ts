// The task state table (upstream `htc_tasks_state_table`): one row per task, keyed by task_id, with the two
// indexes the TTL checker and get_results/cancel_tasks query. Encrypted with the grid's state-table key.
import { Construct } from "constructs";
import { DynamodbTable } from "@cdktf/provider-aws/lib/dynamodb-table";
import { AppautoscalingTarget } from "@cdktf/provider-aws/lib/appautoscaling-target";
import { AppautoscalingPolicy } from "@cdktf/provider-aws/lib/appautoscaling-policy";
import type { StateTableConfig } from "../config/model";
import type { GridNames } from "../naming/names";
import type { GridKey } from "../kms/grid-key";

import {
  SESSION_INDEX,
  STATE_TABLE_ATTRIBUTES,
  STATE_TABLE_INDEXES,
  STATE_TABLE_KEY,
  TTL_INDEX,
} from "../../runtime/src/contract";

export { SESSION_INDEX, TTL_INDEX };

/** Autoscaling bounds and target; upstream's values (target 70 %, slow scale-in, fast scale-out). */
export const STATE_TABLE_AUTOSCALING = {
  /** Upper bound as a multiple of the configured capacity (upstream: 10 -> 50). */
  maxCapacityFactor: 5,
  targetUtilizationPercent: 70,
  scaleInCooldownSec: 300,
  scaleOutCooldownSec: 30,
} as const;

export interface StateTableProps {
  readonly config: StateTableConfig;
  readonly names: GridNames;
  /** Customer-managed key for server-side encryption. */
  readonly key: GridKey;
}

/** The DynamoDB state table, its two GSIs and (optionally) provisioned-capacity autoscaling. */
export class StateTable extends Construct {
  public readonly table: DynamodbTable;
  /** Physical table name. */
  public readonly tableName: string;

  constructor(scope: Construct, id: string, props: StateTableProps) {
    super(scope, id);
    const { config, names, key } = props;
    this.tableName = names.name("dynamodbTable", config.baseName);
    const provisioned = config.billingMode === "PROVISIONED";
    const capacity = provisioned
      ? { readCapacity: config.readCapacity, writeCapacity: config.writeCapacity }
      : {};

    this.table = new DynamodbTable(this, "table", {
      name: this.tableName,
      billingMode: config.billingMode,
      hashKey: STATE_TABLE_KEY,
      attribute: (["session_id", "task_id", "task_status", "heartbeat_expiration_timestamp"] as const).map(
        (name) => ({ name, type: STATE_TABLE_ATTRIBUTES[name] }),
      ),
      globalSecondaryIndex: ([TTL_INDEX, SESSION_INDEX] as const).map((name) => ({
        name,
        hashKey: STATE_TABLE_INDEXES[name].hashKey,
        rangeKey: STATE_TABLE_INDEXES[name].rangeKey,
        projectionType: "INCLUDE",
        nonKeyAttributes: [...STATE_TABLE_INDEXES[name].projected],
        ...capacity,
      })),
      ...capacity,
      pointInTimeRecovery: { enabled: true },
      serverSideEncryption: { enabled: true, kmsKeyArn: key.arn },
      deletionProtectionEnabled: config.deletionProtection,
      // Autoscaling owns the capacities once enabled; without this every plan would reset them.
      lifecycle: config.autoscaling
        ? { ignoreChanges: ["read_capacity", "write_capacity", "global_secondary_index"] }
        : undefined,
    });

    if (config.autoscaling && provisioned) {
      const targets: { id: string; resourceId: string; kind: "table" | "index" }[] = [
        { id: "table", resourceId: `table/${this.tableName}`, kind: "table" },
        ...[TTL_INDEX, SESSION_INDEX].map((index) => ({
          id: index.replace(/_/g, "-"),
          resourceId: `table/${this.tableName}/index/${index}`,
          kind: "index" as const,
        })),
      ];
      const scaling = new Construct(this, "autoscaling");
      for (const target of targets) {
        for (const [dimension, base] of [
          ["Read", config.readCapacity],
          ["Write", config.writeCapacity],
        ] as const) {
          const scalable = new AppautoscalingTarget(scaling, `${target.id}-${dimension.toLowerCase()}`, {
            serviceNamespace: "dynamodb",
            resourceId: target.resourceId,
            scalableDimension: `dynamodb:${target.kind}:${dimension}CapacityUnits`,
            minCapacity: base,
            maxCapacity: base * STATE_TABLE_AUTOSCALING.maxCapacityFactor,
            dependsOn: [this.table],
          });
          new AppautoscalingPolicy(scaling, `${target.id}-${dimension.toLowerCase()}-policy`, {
            name: `DynamoDB${dimension}CapacityUtilization:${scalable.resourceId}`,
            policyType: "TargetTrackingScaling",
            serviceNamespace: scalable.serviceNamespace,
            resourceId: scalable.resourceId,
            scalableDimension: scalable.scalableDimension,
            targetTrackingScalingPolicyConfiguration: {
              predefinedMetricSpecification: {
                predefinedMetricType: `DynamoDB${dimension}CapacityUtilization`,
              },
              targetValue: STATE_TABLE_AUTOSCALING.targetUtilizationPercent,
              scaleInCooldown: STATE_TABLE_AUTOSCALING.scaleInCooldownSec,
              scaleOutCooldown: STATE_TABLE_AUTOSCALING.scaleOutCooldownSec,
            },
          });
        }
      }
    }
  }
}

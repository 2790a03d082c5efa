import { beforeAll, describe, expect, it } from "vitest";
import { Testing } from "cdktf";
import { DynamodbTable } from "@cdktf/provider-aws/lib/dynamodb-table";
import { AppautoscalingPolicy } from "@cdktf/provider-aws/lib/appautoscaling-policy";
import { AppautoscalingTarget } from "@cdktf/provider-aws/lib/appautoscaling-target";
import { type Synthesized, ofType, one, ref, synthControlPlane } from "./fixtures";

type Gsi = { name: string; read_capacity?: number; write_capacity?: number };

describe("state table with the seed config (PROVISIONED, no autoscaling)", () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthControlPlane();
  });

  it("is named from the config base name and keyed by task_id", () => {
    expect(
      Testing.toHaveResourceWithProperties(s.json, DynamodbTable.tfResourceType, {
        name: "htc_tasks_state_table-main",
        hash_key: "task_id",
      }),
    ).toBe(true);
    expect(one(s, "aws_dynamodb_table", "state-table").range_key).toBeUndefined();
  });

  it("declares exactly the four key attributes upstream declares", () => {
    expect(one(s, "aws_dynamodb_table", "state-table").attribute).toEqual([
      { name: "session_id", type: "S" },
      { name: "task_id", type: "S" },
      { name: "task_status", type: "S" },
      { name: "heartbeat_expiration_timestamp", type: "N" },
    ]);
  });

  it("has the TTL and session indexes with upstream's keys and projections", () => {
    const gsis = one(s, "aws_dynamodb_table", "state-table").global_secondary_index as Gsi[];
    expect(gsis).toEqual([
      {
        name: "gsi_ttl_index",
        hash_key: "task_status",
        range_key: "heartbeat_expiration_timestamp",
        projection_type: "INCLUDE",
        non_key_attributes: ["task_id", "task_owner", "task_priority"],
        read_capacity: 10,
        write_capacity: 10,
      },
      {
        name: "gsi_session_index",
        hash_key: "session_id",
        range_key: "task_status",
        projection_type: "INCLUDE",
        non_key_attributes: ["task_id"],
        read_capacity: 10,
        write_capacity: 10,
      },
    ]);
  });

  it("provisions the configured capacity on the table", () => {
    const table = one(s, "aws_dynamodb_table", "state-table");
    expect(table.billing_mode).toBe("PROVISIONED");
    expect(table.read_capacity).toBe(10);
    expect(table.write_capacity).toBe(10);
  });

  it("is encrypted with the state-table key, has PITR and deletion protection", () => {
    const table = one(s, "aws_dynamodb_table", "state-table");
    expect(table.server_side_encryption).toEqual({
      enabled: true,
      kms_key_arn: ref(s, "aws_kms_key", "state-table", "arn"),
    });
    expect(table.point_in_time_recovery).toEqual({ enabled: true });
    expect(table.deletion_protection_enabled).toBe(true);
  });

  it("has no autoscaling when it is not enabled", () => {
    expect(Object.keys(ofType(s, AppautoscalingTarget.tfResourceType))).toHaveLength(0);
    expect(one(s, "aws_dynamodb_table", "state-table").lifecycle).toBeUndefined();
  });
});

describe("state table on demand", () => {
  it("sets no capacity anywhere and honours deletion protection off", () => {
    const s = synthControlPlane({
      dynamodb_billing_mode: "PAY_PER_REQUEST",
      dynamodb_deletion_protection: false,
    });
    const table = one(s, "aws_dynamodb_table", "state-table");
    expect(table.billing_mode).toBe("PAY_PER_REQUEST");
    expect(table.read_capacity).toBeUndefined();
    expect(table.write_capacity).toBeUndefined();
    for (const gsi of table.global_secondary_index as Gsi[]) {
      expect(gsi.read_capacity).toBeUndefined();
      expect(gsi.write_capacity).toBeUndefined();
    }
    expect(table.deletion_protection_enabled).toBe(false);
  });
});

describe("state table with autoscaling", () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthControlPlane({ dynamodb_autoscaling_enabled: true, dynamodb_default_read_capacity: 20 });
  });

  it("scales reads and writes of the table and of both indexes", () => {
    const targets = Object.values(ofType(s, AppautoscalingTarget.tfResourceType));
    const pairs = targets.map((t) => `${t.resource_id} ${t.scalable_dimension}`).sort();
    expect(pairs).toEqual(
      [
        "table/htc_tasks_state_table-main dynamodb:table:ReadCapacityUnits",
        "table/htc_tasks_state_table-main dynamodb:table:WriteCapacityUnits",
        "table/htc_tasks_state_table-main/index/gsi_session_index dynamodb:index:ReadCapacityUnits",
        "table/htc_tasks_state_table-main/index/gsi_session_index dynamodb:index:WriteCapacityUnits",
        "table/htc_tasks_state_table-main/index/gsi_ttl_index dynamodb:index:ReadCapacityUnits",
        "table/htc_tasks_state_table-main/index/gsi_ttl_index dynamodb:index:WriteCapacityUnits",
      ].sort(),
    );
    const read = targets.find((t) => t.scalable_dimension === "dynamodb:table:ReadCapacityUnits")!;
    expect(read.min_capacity).toBe(20);
    expect(read.max_capacity).toBe(100);
  });

  it("tracks 70 % utilisation with one policy per target", () => {
    const policies = Object.values(ofType(s, AppautoscalingPolicy.tfResourceType));
    expect(policies).toHaveLength(6);
    for (const policy of policies) {
      expect(policy.policy_type).toBe("TargetTrackingScaling");
      const tracking = policy.target_tracking_scaling_policy_configuration as Record<string, unknown>;
      expect(tracking.target_value).toBe(70);
    }
  });

  it("leaves capacities to autoscaling", () => {
    expect(one(s, "aws_dynamodb_table", "state-table").lifecycle).toEqual({
      ignore_changes: ["read_capacity", "write_capacity", "global_secondary_index"],
    });
  });
});

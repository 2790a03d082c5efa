import { beforeAll, describe, expect, it } from "vitest";
import { type Synthesized, ofType, ref, synthControlPlane } from "./fixtures";

interface Statement {
  Sid: string;
  Effect: string;
  Action: string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string>>;
}

const HANDLERS = ["submit-tasks", "get-results", "cancel-tasks", "ttl-checker", "scaling-metrics"] as const;

/** The inline policy statements of one function's role. */
function statementsOf(s: Synthesized, handler: (typeof HANDLERS)[number]): Statement[] {
  const policies = Object.entries(ofType(s, "aws_iam_role_policy")).filter(([id]) =>
    id.includes(`functions_${handler}_`),
  );
  expect(policies).toHaveLength(1);
  return JSON.parse(policies[0][1].policy as string).Statement as Statement[];
}
const actionsOf = (statements: Statement[]) => statements.flatMap((st) => st.Action);
const resources = (st: Statement) => (Array.isArray(st.Resource) ? st.Resource : [st.Resource]);
const isReadOnly = (action: string) => /^[a-z0-9-]+:(Describe|Get|List)[A-Za-z]*$/.test(action);

/** Statements allowed to write on Resource "*": the services offer no resource scope for these actions. */
const DOCUMENTED_UNSCOPED_WRITES = new Set([
  "XRayWritesHaveNoResourceScope",
  "PublishScalingMetricInOwnNamespace",
]);

describe("function roles, REDIS storage", () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthControlPlane({ task_queue_service: "PrioritySQS", task_queue_config: '{"priorities":2}' });
  });

  it("gives each function its own role, assumable by Lambda only", () => {
    const roles = Object.entries(ofType(s, "aws_iam_role")).filter(([id]) => id.includes("functions_"));
    expect(roles).toHaveLength(5);
    for (const [, role] of roles) {
      expect(JSON.parse(role.assume_role_policy as string).Statement).toEqual([
        { Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" },
      ]);
    }
  });

  it("never grants a wildcard action", () => {
    for (const handler of HANDLERS) {
      for (const action of actionsOf(statementsOf(s, handler))) {
        expect(action, `${handler}: ${action}`).not.toMatch(/(^\*$|:\*$)/);
      }
    }
  });

  it("allows writes on Resource * only in the documented X-Ray and PutMetricData statements", () => {
    for (const handler of HANDLERS) {
      for (const st of statementsOf(s, handler)) {
        if (!resources(st).includes("*")) continue;
        const writes = st.Action.filter((a) => !isReadOnly(a));
        if (writes.length > 0)
          expect(DOCUMENTED_UNSCOPED_WRITES.has(st.Sid), `${handler}: ${st.Sid}`).toBe(true);
      }
    }
  });

  it("scopes PutMetricData to the scaling namespace and gives it to scaling_metrics only", () => {
    const st = statementsOf(s, "scaling-metrics").find((x) => x.Action.includes("cloudwatch:PutMetricData"))!;
    expect(st.Condition).toEqual({ StringEquals: { "cloudwatch:namespace": "CloudGrid/HTC/Scaling/" } });
    for (const handler of HANDLERS.filter((h) => h !== "scaling-metrics")) {
      expect(actionsOf(statementsOf(s, handler))).not.toContain("cloudwatch:PutMetricData");
    }
  });

  it("lets every function trace and write its own logs, and the error-logging ones the grid error stream", () => {
    for (const handler of HANDLERS) {
      const statements = statementsOf(s, handler);
      expect(statements.find((x) => x.Sid === "XRayWritesHaveNoResourceScope")?.Action).toEqual([
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
      ]);
      // scaling_metrics has no error logger.
      expect(statements.find((x) => x.Sid === "WriteGridErrorLog")).toEqual(
        handler === "scaling-metrics"
          ? undefined
          : expect.objectContaining({
              Action: ["logs:PutLogEvents"],
              Resource: ref(s, "aws_cloudwatch_log_stream", "error-log-stream", "arn"),
            }),
      );
      expect(statements.find((x) => x.Sid === "WriteOwnLogs")?.Resource).toBe(
        `${ref(s, "aws_cloudwatch_log_group", `functions_${handler}_logs`, "arn")}:*`,
      );
    }
  });

  it("lets submit_tasks write and clean up rows, enqueue on every priority queue, and read the Redis token", () => {
    const statements = statementsOf(s, "submit-tasks");
    const table = ref(s, "aws_dynamodb_table", "state-table", "arn");
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: ["dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:UpdateItem"],
        Resource: table,
      }),
    );
    const enqueue = statements.find((x) => x.Action.includes("sqs:SendMessage"))!;
    expect(enqueue.Resource).toEqual([
      ref(s, "aws_sqs_queue", "priority-0_queue", "arn"),
      ref(s, "aws_sqs_queue", "priority-1_queue", "arn"),
    ]);
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: ["secretsmanager:GetSecretValue"],
        Resource: "${aws_secretsmanager_secret.redis-auth.arn}",
      }),
    );
    const keysUsed = statements
      .filter((x) => x.Action.some((a) => a.startsWith("kms:")))
      .map((x) => x.Resource);
    expect(keysUsed.sort()).toEqual(
      [
        ref(s, "aws_kms_key", "state-table", "arn"),
        ref(s, "aws_kms_key", "task-queues", "arn"),
        ref(s, "aws_kms_key", "keys_secrets", "arn"),
      ].sort(),
    );
  });

  it("keeps the data plane, SQS writes and the Redis secret away from get_results", () => {
    const actions = actionsOf(statementsOf(s, "get-results"));
    // Reads only: the session index, and the rows of a task_ids request (outputs kept in them).
    expect(actions.filter((a) => a.startsWith("dynamodb:")).sort()).toEqual([
      "dynamodb:BatchGetItem",
      "dynamodb:Query",
    ]);
    for (const prefix of ["sqs:", "s3:", "secretsmanager:", "ec2:"]) {
      expect(
        actions.some((a) => a.startsWith(prefix)),
        prefix,
      ).toBe(false);
    }
  });

  it("lets ttl_checker query the TTL and session indexes, update rows, requeue messages, re-send lost ones and read its dead letters", () => {
    const statements = statementsOf(s, "ttl-checker");
    const table = ref(s, "aws_dynamodb_table", "state-table", "arn");
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: ["dynamodb:Query"],
        Resource: [`${table}/index/gsi_ttl_index`, `${table}/index/gsi_session_index`],
      }),
    );
    const actions = actionsOf(statements);
    expect(actions).toContain("sqs:ChangeMessageVisibility");
    expect(actions).toContain("sqs:DeleteMessage");
    expect(actions).toContain("sqs:SendMessage");
    expect(statements).toContainEqual(
      expect.objectContaining({
        Sid: "TakeBackDeadLetters",
        Action: ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
      }),
    );
    expect(actions).not.toContain("dynamodb:PutItem");
    expect(actions).toContain("cloudwatch:GetMetricStatistics");
  });

  it("gives ENI permissions, scoped to the grid's subnets and groups, only to the VPC-attached function", () => {
    const create = statementsOf(s, "submit-tasks").find((x) =>
      x.Action.includes("ec2:CreateNetworkInterface"),
    )!;
    expect(resources(create)).toEqual(
      expect.arrayContaining([
        "${aws_subnet.private-0.arn}",
        ref(s, "aws_security_group", "lambda-sg", "arn"),
        "${aws_security_group.redis-clients.arn}",
      ]),
    );
    expect(resources(create)).not.toContain("*");
    for (const handler of HANDLERS.filter((h) => h !== "submit-tasks")) {
      expect(actionsOf(statementsOf(s, handler)).some((a) => a.startsWith("ec2:"))).toBe(false);
    }
  });
});

describe("function roles, S3 storage", () => {
  it("grant payload reads on the data bucket and no secret access", () => {
    const s = synthControlPlane({ grid_storage_service: "S3" });
    const statements = statementsOf(s, "submit-tasks");
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: ["s3:GetObject"],
        Resource: "${aws_s3_bucket.data.arn}/*",
      }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({ Action: ["s3:ListBucket"], Resource: "${aws_s3_bucket.data.arn}" }),
    );
    for (const handler of HANDLERS) {
      const actions = actionsOf(statementsOf(s, handler));
      expect(actions.some((a) => a.startsWith("secretsmanager:"))).toBe(false);
      expect(actions.some((a) => a.startsWith("ec2:"))).toBe(false);
    }
  });
});

import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Testing } from "cdktf";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { type Synthesized, ofType, one, ref, synthControlPlane, tinyBundler } from "./fixtures";

const FUNCTIONS = {
  submit: "submit_task-main",
  results: "get_results-main",
  cancel: "cancel_tasks-main",
  ttl: "ttl_checker-main",
  metrics: "scaling_metrics-main",
};

/**
 * What each handler's cold start reads (test/control-plane/iam-coverage.test.ts records the reads): every
 * function gets exactly its own handler's variables, nothing for another handler.
 */
const STATE_ENV = [
  "REGION",
  "STATE_TABLE_NAME",
  "STATE_TABLE_CONFIG",
  "ERROR_LOG_GROUP",
  "ERROR_LOGGING_STREAM",
];
const QUEUE_ENV = ["TASK_QUEUE_SERVICE", "TASK_QUEUE_CONFIG", "SQS_QUEUE", "SQS_DLQ"];
const S3_ENV = ["S3_BUCKET", "S3_KMS_KEY_ID"];
const REDIS_ENV = ["REDIS_URL", "REDIS_AUTH_SECRET_ARN", "REDIS_TLS"];
const METRICS_ENV = ["NAMESPACE", "DIMENSION_NAME", "DIMENSION_VALUE", "METRICS_NAME", "PERIOD"];
const ENV_OF: Record<keyof typeof FUNCTIONS, string[]> = {
  submit: [...STATE_ENV, ...QUEUE_ENV, "GRID_STORAGE_SERVICE", "TASK_INPUT_PASSED_VIA_EXTERNAL_STORAGE"],
  results: STATE_ENV,
  cancel: STATE_ENV,
  ttl: [...STATE_ENV, ...QUEUE_ENV, "MAX_RETRIES"],
  metrics: ["REGION", ...QUEUE_ENV, ...METRICS_ENV],
};

const fnByName = (s: Synthesized, name: string) => {
  const hit = Object.entries(ofType(s, "aws_lambda_function")).find(([, f]) => f.function_name === name);
  if (!hit) throw new Error(`no function ${name}`);
  return { id: hit[0], ...hit[1] } as Record<string, unknown> & { id: string };
};
const envOf = (s: Synthesized, name: string) =>
  (fnByName(s, name).environment as { variables: Record<string, string> }).variables;

describe("control-plane functions, REDIS storage (seed)", () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthControlPlane();
  });

  it("creates the five functions on Node.js 22 with handler index.handler and X-Ray active", () => {
    expect(Object.keys(ofType(s, "aws_lambda_function"))).toHaveLength(5);
    for (const name of Object.values(FUNCTIONS)) {
      expect(
        Testing.toHaveResourceWithProperties(s.json, LambdaFunction.tfResourceType, {
          function_name: name,
          runtime: "nodejs22.x",
          handler: "index.handler",
          memory_size: 1024,
          tracing_config: { mode: "Active" },
        }),
      ).toBe(true);
    }
  });

  it("uses upstream's timeouts", () => {
    expect(fnByName(s, FUNCTIONS.submit).timeout).toBe(300);
    expect(fnByName(s, FUNCTIONS.results).timeout).toBe(300);
    expect(fnByName(s, FUNCTIONS.cancel).timeout).toBe(300);
    expect(fnByName(s, FUNCTIONS.ttl).timeout).toBe(55);
    expect(fnByName(s, FUNCTIONS.metrics).timeout).toBe(60);
  });

  it("ships each function as a zipped asset whose hash is the source_code_hash", () => {
    for (const name of Object.values(FUNCTIONS)) {
      const fn = fnByName(s, name);
      expect(fn.filename).toMatch(/^assets\/[^/]+\/([0-9A-F]+)\/code\.zip$/);
      const hash = (fn.filename as string).split("/")[2];
      expect(fn.source_code_hash).toBe(hash);
    }
  });

  it("writes logs to its own KMS-encrypted /aws/lambda group with the configured retention", () => {
    for (const name of Object.values(FUNCTIONS)) {
      const fn = fnByName(s, name);
      const groupId = Object.entries(ofType(s, "aws_cloudwatch_log_group")).find(
        ([, g]) => g.name === `/aws/lambda/${name}`,
      )![0];
      const group = ofType(s, "aws_cloudwatch_log_group")[groupId];
      expect(group.kms_key_id).toBe(ref(s, "aws_kms_key", "keys_logs", "arn"));
      expect(group.retention_in_days).toBe(365);
      expect(fn.logging_config).toEqual({
        log_format: "Text",
        log_group: `\${aws_cloudwatch_log_group.${groupId}.name}`,
      });
    }
  });

  it("puts only the Redis-reading function (submit_tasks) in the private subnets, egress-only", () => {
    const vpc = fnByName(s, FUNCTIONS.submit).vpc_config as {
      subnet_ids: string[];
      security_group_ids: string[];
    };
    expect(vpc.subnet_ids).toEqual([
      "${aws_subnet.private-0.id}",
      "${aws_subnet.private-1.id}",
      "${aws_subnet.private-2.id}",
    ]);
    expect(vpc.security_group_ids).toEqual([
      ref(s, "aws_security_group", "lambda-sg", "id"),
      "${aws_security_group.redis-clients.id}",
    ]);
    for (const name of [FUNCTIONS.results, FUNCTIONS.cancel, FUNCTIONS.ttl, FUNCTIONS.metrics]) {
      expect(fnByName(s, name).vpc_config).toBeUndefined();
    }
    const sg = one(s, "aws_security_group", "lambda-sg");
    expect(sg.ingress).toBeUndefined();
    expect(Object.keys(ofType(s, "aws_vpc_security_group_ingress_rule"))).toHaveLength(0);
    const egress = Object.values(ofType(s, "aws_vpc_security_group_egress_rule")).map((r) => r.from_port);
    expect(egress.sort()).toEqual([443, 6379]);
  });

  it("gives every function exactly the environment contract, with the Redis secret by ARN only", () => {
    for (const [key, name] of Object.entries(FUNCTIONS) as [keyof typeof FUNCTIONS, string][]) {
      const env = envOf(s, name);
      const expected = [...ENV_OF[key], ...(key === "submit" ? REDIS_ENV : [])];
      expect(Object.keys(env).sort(), name).toEqual(expected.sort());
      expect(env.REDIS_PASSWORD).toBeUndefined();
      expect(JSON.stringify(env)).not.toMatch(/auth_token/);
    }
  });

  it("fills the contract from the grid's resources and config", () => {
    const env = envOf(s, FUNCTIONS.submit);
    expect(env).toMatchObject({
      STATE_TABLE_NAME: "htc_tasks_state_table-main",
      STATE_TABLE_CONFIG: JSON.stringify({ retries: { max_attempts: 10, mode: "adaptive" } }),
      TASK_QUEUE_SERVICE: "SQS",
      TASK_QUEUE_CONFIG: '{"priorities":1}',
      SQS_QUEUE: "htc_task_queue-main",
      SQS_DLQ: "htc_task_queue_dlq-main",
      GRID_STORAGE_SERVICE: "REDIS",
      REDIS_URL:
        "${aws_elasticache_replication_group.redis.primary_endpoint_address}:${aws_elasticache_replication_group.redis.port}",
      REDIS_AUTH_SECRET_ARN: "${aws_secretsmanager_secret.redis-auth.arn}",
      REDIS_TLS: "1",
      ERROR_LOG_GROUP: ref(s, "aws_cloudwatch_log_group", "error-logs", "name"),
      ERROR_LOGGING_STREAM: ref(s, "aws_cloudwatch_log_stream", "error-log-stream", "name"),
      TASK_INPUT_PASSED_VIA_EXTERNAL_STORAGE: "1",
      REGION: "eu-west-1",
    });
    expect(envOf(s, FUNCTIONS.ttl).MAX_RETRIES).toBe("5");
    // The queue for priority p is `${SQS_QUEUE}__p`.
    expect(Object.values(ofType(s, "aws_sqs_queue")).map((q) => q.name)).toContain(`${env.SQS_QUEUE}__0`);
  });

  it("tells scaling_metrics which metric to publish (fixing upstream defect 14's table-name config)", () => {
    const env = envOf(s, FUNCTIONS.metrics);
    expect(env).toMatchObject({
      NAMESPACE: "CloudGrid/HTC/Scaling/",
      DIMENSION_NAME: "cluster_name",
      DIMENSION_VALUE: "htc-main",
      METRICS_NAME: "pending_tasks_ddb-main",
      PERIOD: "1",
      SQS_QUEUE: "htc_task_queue-main",
    });
    expect(s.plane.scalingMetric).toEqual({
      namespace: "CloudGrid/HTC/Scaling/",
      name: "pending_tasks_ddb-main",
      dimensionName: "cluster_name",
      dimensionValue: "htc-main",
    });
  });

  it("runs ttl_checker single-flight and nothing else with reserved concurrency", () => {
    expect(fnByName(s, FUNCTIONS.ttl).reserved_concurrent_executions).toBe(1);
    for (const name of [FUNCTIONS.submit, FUNCTIONS.results, FUNCTIONS.cancel, FUNCTIONS.metrics]) {
      expect(fnByName(s, name).reserved_concurrent_executions).toBeUndefined();
    }
  });

  it("schedules ttl_checker every minute and scaling_metrics on the configured expression", () => {
    const rules = ofType(s, "aws_cloudwatch_event_rule");
    const targets = Object.values(ofType(s, "aws_cloudwatch_event_target"));
    const permissions = Object.values(ofType(s, "aws_lambda_permission"));
    for (const [name, expression] of [
      [FUNCTIONS.ttl, "rate(1 minute)"],
      [FUNCTIONS.metrics, "rate(1 minute)"],
    ]) {
      const fn = fnByName(s, name);
      const target = targets.find((t) => t.arn === `\${aws_lambda_function.${fn.id}.arn}`)!;
      const ruleId = (target.rule as string).match(/aws_cloudwatch_event_rule\.([^.]+)\.name/)![1];
      expect(rules[ruleId].schedule_expression).toBe(expression);
      expect(permissions).toContainEqual(
        expect.objectContaining({
          principal: "events.amazonaws.com",
          function_name: `\${aws_lambda_function.${fn.id}.function_name}`,
          source_arn: `\${aws_cloudwatch_event_rule.${ruleId}.arn}`,
        }),
      );
    }
  });

  it("creates the central error log group (KMS, retention) and its stream", () => {
    const group = one(s, "aws_cloudwatch_log_group", "error-logs");
    expect(group).toMatchObject({
      name: "grid_errors-main",
      kms_key_id: ref(s, "aws_kms_key", "keys_logs", "arn"),
      retention_in_days: 365,
    });
    expect(one(s, "aws_cloudwatch_log_stream", "error-log-stream")).toEqual({
      name: "lambda_errors-main",
      log_group_name: ref(s, "aws_cloudwatch_log_group", "error-logs", "name"),
    });
  });

  it("encrypts every log group it creates with the logs key and sets a retention", () => {
    for (const group of Object.values(ofType(s, "aws_cloudwatch_log_group"))) {
      expect(group.kms_key_id).toBe(ref(s, "aws_kms_key", "keys_logs", "arn"));
      expect(group.retention_in_days).toBe(365);
    }
  });
});

describe("control-plane functions, other storage modes", () => {
  it("keeps every function out of the VPC with S3 storage and passes the bucket, not Redis", () => {
    const s = synthControlPlane({ grid_storage_service: "S3" });
    for (const name of Object.values(FUNCTIONS)) {
      expect(fnByName(s, name).vpc_config).toBeUndefined();
      const env = envOf(s, name);
      for (const key of [...REDIS_ENV, "REDIS_PASSWORD"]) expect(env[key]).toBeUndefined();
    }
    const submitEnv = envOf(s, FUNCTIONS.submit);
    expect(submitEnv.S3_BUCKET).toBe("${aws_s3_bucket.data.bucket}");
    expect(submitEnv.S3_KMS_KEY_ID).toBe(ref(s, "aws_kms_key", "data-bucket", "arn"));
    expect(Object.keys(submitEnv).sort()).toEqual([...ENV_OF.submit, ...S3_ENV].sort());
    expect(Object.keys(ofType(s, "aws_security_group")).some((id) => id.includes("lambda-sg"))).toBe(false);
  });

  it("with S3+REDIS passes both stores and attaches submit_tasks to the VPC", () => {
    const s = synthControlPlane({ grid_storage_service: "S3+REDIS" });
    const env = envOf(s, FUNCTIONS.submit);
    expect(Object.keys(env).sort()).toEqual([...ENV_OF.submit, ...S3_ENV, ...REDIS_ENV].sort());
    expect(fnByName(s, FUNCTIONS.submit).vpc_config).toBeDefined();
  });
});

describe("code assets", () => {
  it("are deterministic: the same handler code gives the same hash in two synths", () => {
    const a = synthControlPlane();
    const b = synthControlPlane();
    for (const name of Object.values(FUNCTIONS)) {
      expect(fnByName(a, name).source_code_hash).toBe(fnByName(b, name).source_code_hash);
    }
  });

  it("change hash when the handler code changes", () => {
    const a = synthControlPlane();
    const b = synthControlPlane(
      {},
      {
        bundle: (name, outDir) => {
          tinyBundler(name, outDir);
          fs.appendFileSync(path.join(outDir, "index.js"), "// changed\n");
        },
      },
    );
    expect(fnByName(a, FUNCTIONS.submit).source_code_hash).not.toBe(
      fnByName(b, FUNCTIONS.submit).source_code_hash,
    );
  });

  it("bundles each function's own handler", () => {
    const seen: string[] = [];
    synthControlPlane({}, { bundle: (name, outDir) => (seen.push(name), tinyBundler(name, outDir)) });
    expect(seen.sort()).toEqual([
      "cancel_tasks",
      "get_results",
      "scaling_metrics",
      "submit_tasks",
      "ttl_checker",
    ]);
  });

  it("fail synthesis clearly when the bundler writes no index.js", () => {
    expect(() =>
      synthControlPlane({}, { bundle: (_name, outDir) => fs.rmSync(outDir, { recursive: true }) }),
    ).toThrow(/wrote no index.js for handler "submit_tasks"/);
  });
});

// A whole grid on 127.0.0.1 for client tests: the local servers (dynalite, local-aws-sqs, s3rver, redis-server),
// the real control-plane handlers behind the local API Gateway front (private flavour: API key), agent
// configuration documents per storage mode, and the test-only stand-in agent (see stand-in-agent.ts).

import { S3Client } from "@aws-sdk/client-s3";
import { resetColdStart as resetCancel } from "../../../../runtime/src/control-plane/handlers/cancel-tasks";
import { resetColdStart as resetResults } from "../../../../runtime/src/control-plane/handlers/get-results";
import { resetColdStart as resetSubmit } from "../../../../runtime/src/control-plane/handlers/submit-tasks";
import { connectRedis, openDataPlane, type DataPlaneHandle } from "../../../../runtime/src/aws/data-plane";
import type { GridStorageService } from "../../../../runtime/src/contract";
import { GridClient, type GridClientOptions } from "../../../../runtime/src/client";
import {
  startLocalApiGateway,
  type LocalApiGateway,
  type LocalApiGatewayOptions,
} from "../../../../runtime/src/local/api-gateway";
import { applyEnv } from "../../control-plane/integration/fixtures";
import {
  BUCKET,
  KMS_KEY_ARN,
  QUEUE_BASE,
  REGION,
  TABLE,
  startLocalGrid,
  type LocalGrid,
} from "../../control-plane/integration/local-grid";
import { startStandInAgent, startStandInAgentThread, type StandInAgent } from "./stand-in-agent";

export const API_KEY = "test-private-api-key-4f1c2a9e7b";
export const PRIORITIES = 3;
/** redis_data_expiration_sec of the clients' documents. */
export const REDIS_EXPIRATION_SEC = 3600;

export interface Mode {
  readonly storage: GridStorageService;
  /** task_input_passed_via_external_storage */
  readonly external: boolean;
}

export interface Harness {
  readonly grid: LocalGrid;
  readonly api: LocalApiGateway;
  /** Switches the handlers to a mode (environment + cold start) and returns the agent configuration for it. */
  useMode(mode: Mode): Promise<Record<string, unknown>>;
  client(mode: Mode, options?: GridClientOptions): Promise<GridClient>;
  /** The stand-in agent: in this process, or (thread) in a worker thread on the other core. */
  agent(mode: Mode, options?: { loops?: number; thread?: boolean }): StandInAgent;
  /** An extra front on the same handlers (other auth, failure injection); stopped with the harness. */
  front(options: LocalApiGatewayOptions): Promise<LocalApiGateway>;
  stop(): Promise<void>;
}

async function resetColdStarts(): Promise<void> {
  await resetSubmit();
  resetResults();
  resetCancel();
}

export async function startHarness(): Promise<Harness> {
  const grid = await startLocalGrid({ withRedis: true, priorities: PRIORITIES });
  if (!grid.redisUrl) throw new Error("redis-server is required: apt-get install -y redis-server");
  applyEnv(grid.env);
  const api = await startLocalApiGateway({ auth: { kind: "apiKey", apiKeys: [API_KEY] } });
  const fronts: LocalApiGateway[] = [api];
  const agents: StandInAgent[] = [];
  const planes: DataPlaneHandle[] = [];
  const clients: GridClient[] = [];

  const configFor = (mode: Mode): Record<string, unknown> => ({
    region: REGION,
    grid_storage_service: mode.storage,
    task_input_passed_via_external_storage: mode.external ? "1" : "0",
    s3_bucket: BUCKET,
    s3_kms_key_id: KMS_KEY_ARN,
    redis_url: `redis://${grid.redisUrl}`,
    redis_password: "",
    redis_data_expiration_sec: REDIS_EXPIRATION_SEC,
    ddb_state_table: TABLE,
    sqs_queue: QUEUE_BASE,
    task_queue_service: "PrioritySQS",
    task_queue_config: JSON.stringify({ priorities: PRIORITIES }),
    dynamodb_results_pull_interval_sec: 0.05,
    private_api_gateway_url: api.url,
    public_api_gateway_url: "",
    api_gateway_key: API_KEY,
    user_pool_id: "",
    cognito_userpool_client_id: "",
  });

  const harness: Harness = {
    grid,
    api,
    async useMode(mode) {
      applyEnv({
        ...grid.env,
        GRID_STORAGE_SERVICE: mode.storage,
        TASK_INPUT_PASSED_VIA_EXTERNAL_STORAGE: mode.external ? "1" : "0",
        REDIS_URL: grid.redisUrl,
      });
      await resetColdStarts();
      return configFor(mode);
    },
    async client(mode, options = {}) {
      const config = await harness.useMode(mode);
      const client = GridClient.fromConfig(config, { api: "private", ...options });
      clients.push(client);
      return client;
    },
    agent(mode, { loops = 8, thread = false } = {}) {
      const [host, port] = (grid.redisUrl ?? "").split(":");
      const queueUrls = Array.from({ length: PRIORITIES }, (_, p) => grid.queueUrl(PRIORITIES - 1 - p));
      if (thread) {
        let agent: StandInAgent | undefined;
        const pending = Promise.all(queueUrls).then(
          (urls) =>
            (agent = startStandInAgentThread({
              region: REGION,
              ddbEndpoint: grid.env.AWS_ENDPOINT_URL_DYNAMODB,
              sqsEndpoint: grid.env.AWS_ENDPOINT_URL_SQS,
              s3Endpoint: grid.env.AWS_ENDPOINT_URL_S3,
              tableName: TABLE,
              bucket: BUCKET,
              kmsKeyId: KMS_KEY_ARN,
              redis: { host, port: Number(port) },
              storage: mode.storage,
              queueUrls: urls,
              externalStorage: mode.external,
              loops,
            })),
        );
        const handle: StandInAgent = {
          get stats() {
            return agent?.stats ?? { finished: 0, failed: 0, skipped: 0 };
          },
          stop: async () => (await pending).stop(),
        };
        agents.push(handle);
        return handle;
      }
      const plane = openDataPlane({
        storage: mode.storage,
        s3: {
          client: new S3Client({
            region: REGION,
            forcePathStyle: true,
            requestChecksumCalculation: "WHEN_REQUIRED",
            responseChecksumValidation: "WHEN_REQUIRED",
          }),
          bucket: BUCKET,
          kmsKeyId: KMS_KEY_ARN,
        },
        redis: mode.storage === "S3" ? undefined : connectRedis({ host, port: Number(port), tls: false }),
      });
      planes.push(plane);
      let agent: StandInAgent | undefined;
      const pending = Promise.all(queueUrls).then((urls) => {
        agent = startStandInAgent({
          sqs: grid.sqs,
          ddb: grid.ddb,
          tableName: TABLE,
          dataPlane: plane.dataPlane,
          queueUrls: urls,
          externalStorage: mode.external,
          loops,
        });
        return agent;
      });
      const handle: StandInAgent = {
        get stats() {
          return agent?.stats ?? { finished: 0, failed: 0, skipped: 0 };
        },
        async stop() {
          await (await pending).stop();
        },
      };
      agents.push(handle);
      return handle;
    },
    async front(options) {
      const front = await startLocalApiGateway(options);
      fronts.push(front);
      return front;
    },
    async stop() {
      await Promise.all(agents.map((a) => a.stop().catch(() => undefined)));
      await Promise.all(clients.map((c) => c.close()));
      await Promise.all(planes.map((p) => p.close()));
      await Promise.all(fronts.map((f) => f.stop()));
      await resetColdStarts();
      await grid.stop();
    },
  };
  return harness;
}

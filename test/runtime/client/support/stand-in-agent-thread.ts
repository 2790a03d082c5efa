// Worker-thread entry of the TEST-ONLY stand-in agent (stand-in-agent.ts): the same loop on the machine's other
// core, so a 10,000-task session does not share one event loop with the servers it calls. Bundled by esbuild at
// test start (worker threads do not go through vitest's TypeScript transform).
import { parentPort, workerData } from "node:worker_threads";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { connectRedis, openDataPlane } from "../../../../runtime/src/aws/data-plane";
import { startStandInAgent, type StandInAgentThreadData } from "./stand-in-agent";

const data = workerData as StandInAgentThreadData;
const credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
const plane = openDataPlane({
  storage: data.storage,
  s3: {
    client: new S3Client({
      region: data.region,
      endpoint: data.s3Endpoint,
      credentials,
      forcePathStyle: true,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    }),
    bucket: data.bucket,
    kmsKeyId: data.kmsKeyId,
  },
  redis: data.storage === "S3" ? undefined : connectRedis({ ...data.redis, tls: false }),
});
const agent = startStandInAgent({
  sqs: new SQSClient({ region: data.region, endpoint: data.sqsEndpoint, credentials }),
  ddb: new DynamoDBClient({ region: data.region, endpoint: data.ddbEndpoint, credentials }),
  tableName: data.tableName,
  dataPlane: plane.dataPlane,
  queueUrls: data.queueUrls,
  externalStorage: data.externalStorage,
  loops: data.loops,
});
parentPort?.on("message", (message: string) => {
  if (message !== "stop") return;
  void agent
    .stop()
    .then(() => plane.close())
    .then(
      () => parentPort?.postMessage(agent.stats),
      (error: unknown) => parentPort?.postMessage({ error: String(error) }),
    );
});

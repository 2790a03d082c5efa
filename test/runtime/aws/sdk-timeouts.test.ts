// The runtime's AWS SDK clients give up on an endpoint that accepts a connection and then never answers (a silent
// node or a black-holed path) after 30 s of silence, instead of the SDK's own 15 minutes for SQS: for an agent that
// was its receive loop standing still while it looked alive.

import { createServer, type Server, type Socket } from "node:net";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  SDK_TIMEOUTS,
  cloudWatchClient,
  cloudWatchLogsClient,
  dynamoClient,
  s3Client,
  secretsManagerClient,
  sqsClient,
} from "../../../runtime/src/aws/clients";
import { LOCAL_CREDENTIALS } from "../../../runtime/src/local/servers";

let server: Server;
let port: number;
const sockets: Socket[] = [];
let requests = 0;

beforeAll(async () => {
  // Reads every request and answers none.
  server = createServer((socket) => {
    sockets.push(socket);
    socket.on("data", (chunk) => {
      if (chunk.toString().startsWith("POST ")) requests++;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
});

describe("an SQS endpoint that never answers", () => {
  it("fails the call after the socket timeout and the SDK's retries", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_SQS: `http://127.0.0.1:${port}`,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    });
    const sqs = sqsClient("eu-west-1", { connectionTimeout: 1_000, socketTimeout: 300 });
    try {
      const started = Date.now();
      const error = await sqs
        .send(
          new ReceiveMessageCommand({
            QueueUrl: `http://127.0.0.1:${port}/000000000000/q`,
            WaitTimeSeconds: 0,
          }),
        )
        .catch((e: unknown) => e);
      expect((error as Error).name).toBe("TimeoutError");
      expect(Date.now() - started).toBeLessThan(10_000);
      // A timeout is transient: the SDK tried three times.
      expect(requests).toBe(3);
    } finally {
      sqs.destroy();
      process.env = saved;
    }
  });

  it("allows more than SQS's longest long poll (20 s) by default", () => {
    expect(SDK_TIMEOUTS.socketTimeout).toBeGreaterThan(20_000);
    expect(SDK_TIMEOUTS).toEqual({ connectionTimeout: 5_000, socketTimeout: 30_000 });
  });
});

describe("every SDK client of the runtime", () => {
  it("has the same limits, not the SDK's own (5 to 15 minutes, or none for S3)", async () => {
    const clients = {
      dynamodb: dynamoClient("eu-west-1"),
      sqs: sqsClient("eu-west-1"),
      s3: s3Client("eu-west-1", {}),
      cloudwatch: cloudWatchClient("eu-west-1"),
      logs: cloudWatchLogsClient("eu-west-1"),
      secrets: secretsManagerClient("eu-west-1"),
    };
    for (const [name, client] of Object.entries(clients)) {
      // The Node.js HTTP handler resolves its settings into `configProvider`.
      const handler = client.config.requestHandler as unknown as {
        configProvider: Promise<Record<string, unknown>>;
      };
      const config = await handler.configProvider;
      expect(
        { connectionTimeout: config.connectionTimeout, socketTimeout: config.socketTimeout },
        name,
      ).toEqual(SDK_TIMEOUTS);
      client.destroy();
    }
  });
});

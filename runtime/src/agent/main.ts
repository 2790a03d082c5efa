// Entry point of the HTC agent (node agent.js). Reads the agent configuration from AGENT_CONFIG_FILE, waits for
// the worker's invoke API, then takes tasks until SIGTERM or SIGINT: it finishes the task in hand and exits 0.
// Exit codes: 0 stopped cleanly, 2 bad configuration (one line on stderr), 1 a worker that did not start (one
// line) or anything unexpected.

import {
  cloudWatchLogsClient,
  dynamoClient,
  s3Client,
  signedDynamoFor,
  signedS3For,
  sqsClient,
} from "../aws/clients";
import { CACHE_BYPASS_MS, connectRedis, openDataPlane } from "../aws/data-plane";
import { ErrorLogger } from "../aws/error-log";
import { freePort } from "../local/ports";
import { Agent } from "./agent";
import { AgentSettingsError, agentSettings } from "./settings";
import { ChildWorkerControl, PodWorkerControl, WorkerClient, type WorkerControl } from "./worker";

/** How long the worker may take to accept connections at start (a container pulling its code). */
const WORKER_START_TIMEOUT_MS = 300_000;

async function main(): Promise<number> {
  let settings;
  try {
    settings = agentSettings(process.env);
  } catch (error) {
    if (error instanceof AgentSettingsError) {
      console.error(`htc-agent: ${error.message}`);
      return 2;
    }
    throw error;
  }
  process.title = "htc-agent";

  let endpoint = settings.worker.endpoint;
  let control: WorkerControl | undefined;
  let podControl: PodWorkerControl | undefined;
  if (settings.worker.restart === "child" && settings.worker.hostScript) {
    const child = new ChildWorkerControl(
      settings.worker.hostScript,
      settings.worker.hostArgs,
      await freePort(),
    );
    try {
      await child.start();
    } catch (error) {
      // The worker host said why on stderr above (a zip it cannot read, a port it cannot take).
      console.error(`htc-agent: the worker did not start: ${(error as Error).message}`);
      return 1;
    }
    endpoint = child.endpoint;
    control = child;
  } else if (settings.worker.restart === "kill-by-name") {
    podControl = new PodWorkerControl(endpoint, settings.worker.processNames);
    control = podControl;
  }
  const worker = new WorkerClient(endpoint, settings.worker.functionName, control);

  const logger = new ErrorLogger(
    settings.errorLog.group && settings.errorLog.stream ? cloudWatchLogsClient(settings.region) : undefined,
    settings.errorLog,
    `agent ${settings.agentId}`,
  );
  // The hot calls (UpdateItem, S3 get/put) go through the signed-HTTP client, at a fraction of the SDK's CPU;
  // HTC_AWS_CLIENT=sdk (or FIPS/dual-stack endpoints) keeps them on the SDK. Credentials come from the SDK.
  const sdkDynamo = dynamoClient(settings.region, settings.stateTable);
  const ddb = signedDynamoFor(sdkDynamo, settings.region, settings.stateTable) ?? sdkDynamo;
  const sdkS3 = settings.s3 ? s3Client(settings.region) : undefined;
  const s3 = sdkS3 && (signedS3For(sdkS3, settings.region) ?? sdkS3);
  const data = openDataPlane({
    storage: settings.storage,
    s3: settings.s3 && s3 ? { client: s3, ...settings.s3 } : undefined,
    redis: settings.redis ? connectRedis(settings.redis) : undefined,
    redisExpirationSec: settings.redisExpirationSec,
    onCacheError: (error) =>
      void logger.log(
        `agent ${settings.agentId}: the Redis cache failed; using S3 alone for the next ${CACHE_BYPASS_MS / 1000} s`,
        error,
      ),
  });
  const agent = new Agent({
    settings,
    ddb,
    sqs: sqsClient(settings.region),
    dataPlane: data.dataPlane,
    worker,
    logger,
  });

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      console.error(
        `htc-agent: ${signal} again, exiting now; tasks in hand go back to the queue when their heartbeat expires`,
      );
      process.exit(130);
    }
    console.log(`htc-agent: ${signal}: taking no new task, finishing the one in hand`);
    agent.stop();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  try {
    try {
      await worker.ready(WORKER_START_TIMEOUT_MS);
      if (await podControl?.restartIfUsed())
        console.log(
          `htc-agent: the worker's runtime was already started, by an earlier agent in this pod that did not shut ` +
            "down: restarted the worker, so no invocation of that agent is still running",
        );
    } catch (error) {
      console.error(`htc-agent: the worker did not start: ${(error as Error).message}`);
      return 1;
    }
    if (!agent.isStopping) await agent.run();
  } finally {
    await worker.stop().catch(() => undefined);
    await data.close();
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(
      `htc-agent: stopped by an unexpected error: ${error instanceof Error ? error.stack : String(error)}`,
    );
    process.exit(1);
  },
);

// `npm run local` (also `npx htc local`): the whole grid on this machine, from the same grid configuration the
// stacks use (HTCGRID_CONFIG, else generated/grid_config.json, else the built-in default). Prints the endpoints and
// a command to try, shows live status, and stops everything on Ctrl-C, SIGTERM or SIGHUP (a closed terminal). The npm
// script execs node, so a SIGTERM npm forwards reaches this process rather than the shell between them.
//   npm run local -- [--agents N] [--worker ZIP|DIR] [--handler FILE.FUNCTION] [--port PORT] [--delay-ms MS]

import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, loadGridConfig } from "../modules/config/load";
import type { GridConfig } from "../modules/config/model";
import { WORKER_RUNTIMES } from "../modules/images/stock-images";
import { localGridLayout } from "../modules/local-grid/layout";
import { bundleRuntime } from "../modules/runtime-bundle/bundle";
import { GRID_PID_FILE, gridProcess } from "../runtime/src/local/grid-pid";
import { startGrid, type LocalGrid } from "../runtime/src/local/grid";
import { writeFileAtomic } from "../runtime/src/util/write-atomic";
import { locateHandler } from "../runtime/src/worker-host/handler";
import { extractZip } from "../runtime/src/worker-host/unzip";

const USAGE = `usage: npm run local -- [options]

  --agents N          agent processes to run (default 2)
  --worker ZIP|DIR    worker code: a Node.js Lambda zip or folder (default: the configuration's worker when it is
                      a local zip of a Node.js handler, else the built-in mock compute engine)
  --handler F.FN      the worker's handler (default: the configuration's for its worker, else index.handler)
  --worker-timeout S  seconds a task may run before the worker host stops it (default 300)
  --port PORT         port of the local API on 127.0.0.1 (default: a free one)
  --delay-ms MS       milliseconds added to every AWS request (default 0)
  --ttl-interval S    seconds between TTL checker runs (default 5)
  --dir DIR           where the client configuration and agent logs go (default generated/local)
  -h, --help          this text`;

class UsageError extends Error {}

function positiveInt(
  flag: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} ${JSON.stringify(raw)} must be an integer from ${min} to ${max}`);
  }
  return n;
}

interface Options {
  agents: number;
  /** --worker, resolved, and as given. */
  worker?: string;
  workerGiven?: string;
  /** --handler, when given. */
  handler?: string;
  workerTimeoutSec: number;
  port: number;
  delayMs: number;
  ttlIntervalSec: number;
  dir: string;
}

/**
 * Checks worker code before anything starts, as the worker host will read it: a zip it can unpack (or a folder)
 * holding the handler's module. Throws a message naming where the code (`code.label`, e.g. `--worker x.zip`; its name
 * alone: `code.name`) and the handler (`handlerLabel`, e.g. `--handler`) came from, and what is wrong.
 */
function checkWorker(
  path: string,
  code: { label: string; name: string },
  handler: string,
  handlerLabel: string,
): void {
  let root = path;
  let scratch: string | undefined;
  try {
    if (statSync(path).isFile()) {
      scratch = mkdtempSync(join(tmpdir(), "htc-local-worker-check-"));
      try {
        extractZip(path, scratch);
      } catch (error) {
        throw new Error(`${code.label}: ${(error as Error).message.replace(path, "the file")}`);
      }
      root = scratch;
    }
    try {
      locateHandler(root, handler);
    } catch (error) {
      if ((error as Error).name === "Runtime.MalformedHandlerName") {
        throw new Error(
          `${handlerLabel} ${JSON.stringify(handler)} must be [folder/]<module>.<function> without "..", e.g. index.handler`,
        );
      }
      // As the Node.js runtime reads the name: the module is the part before the first dot.
      const name = basename(handler);
      const module = join(dirname(handler), name.slice(0, name.indexOf(".")));
      throw new Error(
        `${handlerLabel} ${handler}: ${code.name} has no ${module}.js, ${module}.mjs or ${module}.cjs`,
      );
    }
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

/** The worker the agents run: code (undefined: the built-in mock compute engine), handler, and how to name it. */
interface WorkerChoice {
  code?: string;
  handler: string;
  label: string;
  /** Why the configuration's worker is not the one that runs, when it is not. */
  notice?: string;
}

/**
 * --worker, else the configuration's worker (`agent_configuration.lambda.location`) when it is a local zip of a
 * Node.js handler on a stock image, as the deployment would run it; else the mock compute engine, with a notice when
 * the configuration names a worker the local worker host cannot run.
 */
function chooseWorker(
  opts: Options,
  lambda: GridConfig["agent"]["lambda"],
  rel: (path: string) => string,
): WorkerChoice {
  if (opts.worker !== undefined) {
    const handler = opts.handler ?? "index.handler";
    try {
      const name = opts.workerGiven ?? opts.worker;
      checkWorker(opts.worker, { label: `--worker ${name}`, name }, handler, "--handler");
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    return { code: opts.worker, handler, label: rel(opts.worker) };
  }
  const nodejs = lambda.image === undefined && WORKER_RUNTIMES[lambda.runtime]?.image === "lambdaNodejs";
  if (lambda.localZip !== undefined && nodejs) {
    const handler = opts.handler ?? lambda.handler;
    const name = `the configuration's worker (agent_configuration.lambda.location ${lambda.localZip})`;
    checkWorker(
      lambda.localZip,
      { label: name, name },
      handler,
      opts.handler === undefined ? "the configuration's handler" : "--handler",
    );
    return { code: lambda.localZip, handler, label: `${rel(lambda.localZip)} (the configuration's)` };
  }
  if (opts.handler !== undefined) {
    throw new UsageError(
      `--handler ${opts.handler} needs --worker ZIP|DIR (the built-in mock compute engine's handler is index.handler)`,
    );
  }
  const where = lambda.localZip ?? lambda.s3Source;
  const why =
    where === undefined
      ? undefined
      : lambda.image !== undefined
        ? `runs in the image ${lambda.image.repository}:${lambda.image.tag}, and the local grid runs no images`
        : !nodejs
          ? `runs on runtime ${JSON.stringify(lambda.runtime)}, and the local worker host runs Node.js handlers only`
          : "is in S3, which the local grid does not read";
  return {
    handler: "index.handler",
    label: "mock-compute-engine",
    notice:
      why === undefined
        ? undefined
        : `the configuration's worker (${where}) ${why}: the agents run the built-in mock compute engine instead; give --worker ZIP|DIR (a Node.js handler) to run your own`,
  };
}

/**
 * `callerCwd` resolves the paths given as flags; the default --dir is under `cwd` (the repository, where npm runs the
 * script and `htc --local` looks).
 */
function options(argv: string[], cwd: string, callerCwd: string): Options | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        agents: { type: "string" },
        worker: { type: "string" },
        handler: { type: "string" },
        "worker-timeout": { type: "string" },
        port: { type: "string" },
        "delay-ms": { type: "string" },
        "ttl-interval": { type: "string" },
        dir: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const v = parsed.values;
  if (v.help) return "help";
  const worker = v.worker === undefined ? undefined : resolve(callerCwd, v.worker);
  if (worker !== undefined && !existsSync(worker))
    throw new UsageError(`--worker ${v.worker} does not exist`);
  return {
    agents: positiveInt("--agents", v.agents, 2, 1, 64),
    worker,
    workerGiven: v.worker,
    handler: v.handler,
    workerTimeoutSec: positiveInt("--worker-timeout", v["worker-timeout"], 300, 1, 86_400),
    port: positiveInt("--port", v.port, 0, 0, 65_535),
    delayMs: positiveInt("--delay-ms", v["delay-ms"], 0, 0, 10_000),
    ttlIntervalSec: positiveInt("--ttl-interval", v["ttl-interval"], 5, 1, 3_600),
    dir: v.dir === undefined ? resolve(cwd, "generated", "local") : resolve(callerCwd, v.dir),
  };
}

function statusLine(s: Awaited<ReturnType<LocalGrid["status"]>>, rate: number): string {
  return (
    `agents ${s.agentsAlive}/${s.agents}` +
    (s.agentRestarts > 0 ? ` (${s.agentRestarts} restart${s.agentRestarts === 1 ? "" : "s"})` : "") +
    `  queued ${s.queued}  finished ${s.finished}  failed ${s.failed}` +
    `  cancelled ${s.cancelled}  ${rate.toFixed(1)} done/s` +
    (s.duplicateFinals > 0 ? `  DUPLICATE FINAL STATES ${s.duplicateFinals}` : "") +
    (s.badSignatures > 0 ? `  BAD SIGNATURES ${s.badSignatures} (see stderr)` : "")
  );
}

async function main(): Promise<number> {
  const outputGone = outputClosed();
  const cwd = process.cwd();
  // The SDK warns on Node 20 about SDK releases after January 2027; this project pins its SDK versions.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  let opts: Options | "help";
  try {
    // npm runs scripts in the repository and says where it was started in INIT_CWD (`npm run local` from a
    // subfolder, `npx htc local` from anywhere): paths given as flags are the caller's.
    const callerCwd =
      process.env.npm_lifecycle_event === "local" && process.env.INIT_CWD ? process.env.INIT_CWD : cwd;
    opts = options(process.argv.slice(2), cwd, callerCwd);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`htc-grid local: ${error.message}\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  if (opts === "help") {
    console.log(USAGE);
    return 0;
  }
  let loaded;
  try {
    loaded = loadGridConfig(process.env, cwd);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`htc-grid local: configuration rejected: ${error.message}`);
      return 1;
    }
    throw error;
  }
  const { config } = loaded;
  const rel = (path: string) => (path.startsWith(`${cwd}/`) ? path.slice(cwd.length + 1) : path);
  let worker: WorkerChoice;
  try {
    worker = chooseWorker(opts, config.agent.lambda, rel);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`htc-grid local: ${error.message}\n${USAGE}`);
      return 2;
    }
    console.error(`htc-grid local: configuration rejected: ${loaded.source}: ${(error as Error).message}`);
    return 1;
  }
  console.log(
    `htc-grid local: using grid configuration from ${loaded.source} (project ${config.projectName}, ${config.dataPlane.storage} storage, ${config.controlPlane.taskQueue.priorities} priorit${config.controlPlane.taskQueue.priorities === 1 ? "y" : "ies"})`,
  );
  const startedAt = Date.now();
  if (worker.notice) console.error(`htc-grid local: ${worker.notice}`);
  const dir = opts.dir;
  // A second grid in the same folder would delete the running one's code and take over its client file.
  const pidFile = join(dir, GRID_PID_FILE);
  // A stale file (a grid stopped with SIGKILL) does not block a start.
  const other = gridProcess(dir);
  const running = other?.running && other.pid !== process.pid ? other.pid : undefined;
  if (running !== undefined) {
    console.error(
      `htc-grid local: could not start: a local grid already runs from ${rel(dir)} (process ${running}): stop it (Ctrl-C in its terminal), or start this one with its own --dir`,
    );
    return 1;
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(pidFile, `${process.pid}\n`);
  const bundles = join(dir, "bundles");
  rmSync(bundles, { recursive: true, force: true });
  mkdirSync(bundles, { recursive: true });
  const bundle = (name: Parameters<typeof bundleRuntime>[0]) => {
    const out = join(bundles, name);
    bundleRuntime(name, out);
    return out;
  };
  const agentScript = join(bundle("agent"), "index.js");
  const workerHostScript = join(bundle("worker-host"), "index.js");
  const dynamoScript = join(bundle("local-dynamodb"), "index.js");
  const workerCode = worker.code ?? bundle("mock-compute-engine");

  let grid: LocalGrid;
  try {
    grid = await startGrid({
      layout: localGridLayout(config),
      agents: opts.agents,
      agentScript,
      workerHostScript,
      dynamoScript,
      workerCode,
      workerHandler: worker.handler,
      workerTimeoutSec: opts.workerTimeoutSec,
      dir,
      apiPort: opts.port,
      delayMs: opts.delayMs,
      ttlIntervalSec: opts.ttlIntervalSec,
      restartAgents: true,
    });
  } catch (error) {
    rmSync(pidFile, { force: true });
    console.error(
      `htc-grid local: could not start: ${error instanceof Error ? error.message : String(error)}`,
    );
    return 1;
  }

  console.log(`ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  console.log(`  API        ${grid.apiUrl}  (private flavour: x-api-key from ${rel(grid.configPath)})`);
  console.log(
    `  DynamoDB   ${grid.endpoints.AWS_ENDPOINT_URL_DYNAMODB}   table ${grid.config.ddb_state_table}`,
  );
  console.log(
    `  SQS        ${grid.endpoints.AWS_ENDPOINT_URL_SQS}   queues ${grid.config.sqs_queue}__0..${config.controlPlane.taskQueue.priorities - 1}`,
  );
  if (grid.config.s3_bucket)
    console.log(`  S3         ${grid.endpoints.AWS_ENDPOINT_URL_S3}   bucket ${grid.config.s3_bucket}`);
  if (grid.config.redis_url) console.log(`  Redis      ${grid.config.redis_url}`);
  console.log(
    `  agents     ${opts.agents}, worker ${worker.label} (${worker.handler}); logs in ${rel(dir)}/local-agent-N.log`,
  );
  console.log(`  client     ${rel(grid.clientFile)}   status ${rel(join(dir, "status.json"))}`);
  const which = dir === resolve(cwd, "generated", "local") ? "--local" : `--local-dir ${dir}`;
  // The mock compute engine's arguments mean nothing to another worker: that one gets its events from a file.
  const tryIt =
    worker.code === undefined
      ? `npx htc submit ${which} --count 1000 --worker-args "100 1 1" --wait`
      : `npx htc submit ${which} --file tasks.ndjson --wait    # tasks.ndjson: one event for ${worker.handler} per line`;
  console.log(`\ntry it (in another terminal):\n  ${tryIt}\n`);

  let previous = { at: Date.now(), done: 0 };
  const tty = process.stdout.isTTY === true;
  let lastPrinted = 0;
  const statusFile = join(dir, "status.json");
  const timer = setInterval(() => {
    void grid
      .status()
      .then((s) => {
        const now = Date.now();
        const done = s.finished + s.failed + s.cancelled;
        const rate = ((done - previous.done) * 1000) / Math.max(1, now - previous.at);
        previous = { at: now, done };
        // For scripts and tests: the same status, with each agent's process id.
        const agents = grid.agents.map((a) => ({
          name: a.name,
          pid: a.child.pid,
          alive: a.child.exitCode === null && a.child.signalCode === null,
          restarts: a.restarts,
        }));
        writeFileAtomic(
          statusFile,
          `${JSON.stringify({ ...s, rate, agentProcesses: agents, serverProcesses: grid.serverPids })}\n`,
        );
        if (tty) process.stdout.write(`\r\x1b[2K${statusLine(s, rate)}`);
        else if (now - lastPrinted >= 10_000) {
          lastPrinted = now;
          console.log(statusLine(s, rate));
        }
      })
      .catch(() => undefined);
  }, 1_000);

  // Until Ctrl-C, SIGTERM or SIGHUP; or until a server process exits on its own (a redis-server killed by hand, out
  // of memory): the tasks and data it held are gone, and a grid that ran on would fail every request to it; or until
  // the reader of its output goes away (`| head`): nobody sees it any more.
  const why = await new Promise<{ signal: true } | { lost: string } | { outputGone: true }>((resolveStop) => {
    let firstSignalAt: number | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      if (firstSignalAt !== undefined) {
        // Under npm one Ctrl-C arrives twice: from the terminal, and forwarded by npm a moment later.
        if (Date.now() - firstSignalAt < SAME_SIGNAL_MS) return;
        // A second one: out at once. The servers and agents go with this process, as when it is killed (see
        // LOCAL_PROCESS_GROUP); its files go as well, so that htc does not try the dead ports.
        rmSync(grid.clientFile, { force: true });
        rmSync(pidFile, { force: true });
        process.exit(130);
      }
      firstSignalAt = Date.now();
      if (tty) process.stdout.write("\n");
      console.log(`htc-grid local: ${signal}: stopping the agents (they finish their tasks) and the servers`);
      resolveStop({ signal: true });
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    process.on("SIGHUP", onSignal);
    void grid.serverLost.then((lost) => resolveStop({ lost }));
    void outputGone.then(() => resolveStop({ outputGone: true }));
  });
  clearInterval(timer);
  if ("lost" in why) {
    if (tty) process.stdout.write("\n");
    console.error(
      `htc-grid local: ${why.lost}: the grid's state in it is gone, so the grid stops; start a new one with npm run local`,
    );
  } else if ("outputGone" in why) {
    console.error("htc-grid local: the reader of its output went away: stopping the agents and the servers");
  }
  await grid.stop();
  rmSync(pidFile, { force: true });
  console.log("htc-grid local: stopped");
  // 141 as a process stopped by SIGPIPE, as htc does.
  return "signal" in why ? 0 : "lost" in why ? 1 : 141;
}

/** A signal this soon after the first is the same Ctrl-C delivered twice (see onSignal), not a second one. */
const SAME_SIGNAL_MS = 500;

/**
 * Resolves once stdout's or stderr's reader has gone (EPIPE: `npm run local | head` after its lines): from then on
 * writes to it are dropped. Without a listener, the next status line crashed the grid with a stack trace, leaving its
 * client file and grid.pid behind.
 */
function outputClosed(): Promise<void> {
  return new Promise((resolve) => {
    for (const stream of [process.stdout, process.stderr]) stream.on("error", () => resolve());
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(
      `htc-grid local: stopped by an unexpected error: ${error instanceof Error ? error.message : String(error)}`,
    );
    process.exit(1);
  },
);

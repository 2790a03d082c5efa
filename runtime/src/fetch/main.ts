// The fetch step of the agent pods and the client pods (`node fetch.js '<plan JSON>'` or `node fetch.js --plan-file
// FILE`, an init container on the stock Node.js image): downloads the runtime bundles and the worker zip the plan
// names from the workload bucket (exact versions, SHA-256 checked), unpacks the worker into the task root, and
// assembles the agent configuration file from the ConfigMap and the Secret. Node built-ins only; credentials come
// from EKS Pod Identity. The plan file is how the submission jobs, written before any deploy, get the plan the
// grid-k8s stack writes into the fetch ConfigMap.
// Exit codes: 0 done, 1 a download or a file failed, 2 a bad plan. Every failure is one line on stderr.

import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { extractZip } from "../worker-host/unzip";
import { resolveCredentials, type Credentials } from "./credentials";
import { PlanError, parsePlan, type ConfigAssembly, type FetchPlan } from "./plan";
import { getObject } from "./s3-get";

type Log = (line: string) => void;

/** Merges the public configuration and one file per secret field into the target (mode 0440). */
export function assembleConfig(config: ConfigAssembly): void {
  const document = JSON.parse(readFileSync(config.public, "utf8")) as Record<string, unknown>;
  for (const key of config.keys) document[key] = readFileSync(join(config.secrets, key), "utf8");
  mkdirSync(dirname(config.target), { recursive: true });
  rmSync(config.target, { force: true });
  writeFileSync(config.target, JSON.stringify(document), { mode: 0o440 });
  chmodSync(config.target, 0o440);
}

export async function runPlan(plan: FetchPlan, env: NodeJS.ProcessEnv, log: Log): Promise<void> {
  let credentials: Credentials | undefined;
  const location = {
    region: plan.region,
    dnsSuffix: plan.dnsSuffix ?? "amazonaws.com",
    endpoint: plan.endpoint,
  };
  const scratch = mkdtempSync(join(env.TMPDIR || tmpdir(), "htc-fetch-"));
  try {
    for (const object of plan.objects) {
      credentials ??= await resolveCredentials(env);
      const target = object.file ?? join(scratch, "object.zip");
      mkdirSync(dirname(target), { recursive: true });
      const got = await getObject(location, credentials, object, target);
      const name = `s3://${object.bucket}/${object.key}`;
      if (object.sha256 && got.sha256 !== object.sha256) {
        rmSync(target, { force: true });
        throw new Error(`${name}: SHA-256 ${got.sha256} does not match the release's ${object.sha256}`);
      }
      const version = got.versionId ?? object.versionId;
      const detail = `${got.bytes} bytes${version ? `, version ${version}` : ""}${object.sha256 ? ", SHA-256 checked" : ""}`;
      if (object.file) {
        chmodSync(object.file, 0o444);
        log(`fetched ${name} (${detail}) -> ${object.file}`);
      } else {
        mkdirSync(object.unzip!, { recursive: true });
        const files = extractZip(target, object.unzip!);
        rmSync(target, { force: true });
        log(`fetched ${name} (${detail}) -> ${object.unzip} (${files.length} files)`);
      }
    }
    if (plan.config) {
      assembleConfig(plan.config);
      log(`assembled ${plan.config.target} (${plan.config.keys.length} secret fields)`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function main(argv: readonly string[]): Promise<number> {
  process.title = "htc-fetch";
  let text: string;
  if (argv.length === 1 && argv[0] !== "--plan-file") text = argv[0];
  else if (argv.length === 2 && argv[0] === "--plan-file") {
    try {
      text = readFileSync(argv[1], "utf8");
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      console.error(`htc-fetch: cannot read the plan file ${argv[1]}: ${reason}`);
      return 2;
    }
  } else {
    console.error("htc-fetch: usage: fetch.js '<plan JSON>' | fetch.js --plan-file FILE");
    return 2;
  }
  let plan: FetchPlan;
  try {
    plan = parsePlan(text);
  } catch (error) {
    if (error instanceof PlanError) {
      console.error(`htc-fetch: ${error.message}`);
      return 2;
    }
    throw error;
  }
  try {
    await runPlan(plan, process.env, (line) => console.log(`htc-fetch: ${line}`));
    return 0;
  } catch (error) {
    console.error(`htc-fetch: ${(error as Error).message}`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}

// CLI for `npm run generate` (see modules/generate/generate.ts).
import * as path from "node:path";
import { parseArgs } from "node:util";
import { ConfigError } from "../modules/config/load";
import { generate, GenerateError } from "../modules/generate/generate";

const USAGE = `usage: npm run generate -- [--tag TAG] [--region REGION] [--deployer-cidr CIDR] [--account-id ID] [--force]

Writes generated/grid_config.json (the workshop's example with project_name = TAG and region = REGION)
and the submission jobs generated/{single-task,batch-task,cancel-many-small-tasks,cancel-one-long-task}-test.yaml.

  --tag TAG          grid tag / project_name (env TAG; default "mainline")
  --region REGION    AWS region (env REGION; default "eu-west-1")
  --deployer-cidr CIDR
                     public address of the machine that runs cdktf deploy, e.g. 203.0.113.7/32 (env
                     DEPLOYER_CIDR); the EKS endpoint is opened to it only. Default: a placeholder that
                     npm run synth refuses until you replace it
  --account-id ID    AWS account of the grid's registry, which the jobs pull the Node.js image through;
                     default: the {{account_id}} placeholder
  --force            overwrite files that differ from what would be generated
  --help             this text`;

function main(): number {
  let args;
  try {
    args = parseArgs({
      options: {
        tag: { type: "string" },
        region: { type: "string" },
        "account-id": { type: "string" },
        "deployer-cidr": { type: "string" },
        force: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
      strict: true,
    }).values;
  } catch (e) {
    console.error(`generate: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const tag = args.tag ?? (process.env.TAG || "mainline");
  const region = args.region ?? (process.env.REGION || "eu-west-1");
  try {
    const result = generate({
      tag,
      region,
      accountId: args["account-id"] ?? (process.env.ACCOUNT_ID || undefined),
      deployerCidr: args["deployer-cidr"] ?? (process.env.DEPLOYER_CIDR || undefined),
      force: args.force === true,
      outDir: path.resolve("generated"),
    });
    for (const f of result.written) console.log(`wrote ${path.relative(process.cwd(), f)}`);
    for (const f of result.unchanged) console.log(`unchanged ${path.relative(process.cwd(), f)}`);
    if (!args["deployer-cidr"] && !process.env.DEPLOYER_CIDR) {
      console.log(
        "note: eks_public_access_cidrs in generated/grid_config.json is a placeholder; set it to the public address of the machine that runs cdktf deploy (e.g. $(curl -s https://checkip.amazonaws.com)/32), or re-run with --deployer-cidr <cidr> --force",
      );
    }
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`generate: ${e.message}`);
      return 1;
    }
    if (e instanceof GenerateError) {
      console.error(`generate: ${e.message}`);
      return 1;
    }
    // A file-system failure outside the writer (e.g. the working directory vanished) is still one line.
    if ((e as NodeJS.ErrnoException).code !== undefined) {
      console.error(`generate: ${(e as Error).message}`);
      return 1;
    }
    throw e;
  }
}

process.exitCode = main();

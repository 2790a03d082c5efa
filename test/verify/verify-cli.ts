// `npm run verify:synth -- [cdktf.out] [options]`: runs the offline gates on synthesized stacks.
//   --no-terraform            skip `terraform validate` (schema check and policies still run)
//   --require-tag KEY[=VALUE] a tag every taggable AWS resource must carry (repeatable)
//   --iam-allowlist FILE      JSON { "<Sid>": "<reason>" } (default test/verify/iam-allowlist.json)
// checkov runs separately: test/verify/checkov.sh <cdktf.out>.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { checkPolicies, type WildcardAllowList } from "./policy";
import { loadDefaultSchemas, type ProviderSchema } from "./provider-schema";
import { checkSynthOutput, findStackFiles, formatIssue } from "./schema-check";
import { findTerraform } from "./terraform-bin";
import { formatDiagnostic, validateSynthOutput } from "./tf-validate";

/** AWS resource types with a configurable `tags` argument (default_tags apply to them). */
export function taggableTypes(schemas: readonly ProviderSchema[]): Set<string> {
  const aws = schemas.find((s) => s.name === "aws");
  return new Set(
    Object.entries(aws?.resources ?? {})
      .filter(([, b]) => b.attributes.tags && !b.attributes.tags.computed)
      .map(([type]) => type),
  );
}

interface Options {
  target: string;
  terraform: boolean;
  requiredTags: Record<string, string | undefined>;
  allowListFile: string;
}

function parseArgs(argv: string[]): Options {
  const options: Options = {
    target: "cdktf.out",
    terraform: true,
    requiredTags: {},
    allowListFile: join("test", "verify", "iam-allowlist.json"),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--no-terraform") options.terraform = false;
    else if (arg === "--require-tag") {
      const [key, value] = (argv[++i] ?? "").split("=", 2);
      if (!key) throw new Error("--require-tag needs KEY[=VALUE]");
      options.requiredTags[key] = value;
    } else if (arg === "--iam-allowlist") options.allowListFile = argv[++i];
    else if (arg.startsWith("--")) throw new Error(`unknown option ${arg}`);
    else options.target = arg;
  }
  return options;
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  let failures = 0;
  let started = Date.now();
  const schemas = loadDefaultSchemas();
  const schema = checkSynthOutput(options.target, schemas);
  schema.issues.forEach((i) => console.log(formatIssue(i)));
  failures += schema.issues.length;
  console.log(
    `schema: ${schema.stacks.length} stacks, ${schema.issues.length} issues, ${((Date.now() - started) / 1000).toFixed(2)} s`,
  );

  started = Date.now();
  const allowList = Object.fromEntries(
    Object.entries(JSON.parse(readFileSync(options.allowListFile, "utf8")) as Record<string, string>).filter(
      ([k]) => k !== "//",
    ),
  ) as WildcardAllowList;
  const taggable = taggableTypes(schemas);
  let violations = 0;
  for (const { stack, file } of findStackFiles(options.target)) {
    const doc = JSON.parse(readFileSync(file, "utf8"));
    for (const v of checkPolicies(doc, {
      iamAllowList: allowList,
      requiredTags: options.requiredTags,
      taggable,
    })) {
      console.log(`${stack}: ${v.address}: [${v.rule}] ${v.message}`);
      violations++;
    }
  }
  failures += violations;
  const tagNote =
    Object.keys(options.requiredTags).length === 0
      ? " (no --require-tag given: tag rule checked nothing)"
      : "";
  console.log(`policy: ${violations} violations, ${((Date.now() - started) / 1000).toFixed(2)} s${tagNote}`);

  if (options.terraform) {
    started = Date.now();
    const terraform = findTerraform();
    if (!terraform)
      throw new Error(
        "Terraform 1.11.4 not found: run test/verify/install-terraform.sh or pass --no-terraform",
      );
    const results = await validateSynthOutput(options.target, terraform);
    for (const r of results) r.diagnostics.forEach((d) => console.log(formatDiagnostic(r.stack, d)));
    const invalid = results.filter((r) => !r.valid).length;
    failures += invalid;
    console.log(
      `terraform validate: ${results.length - invalid} valid, ${invalid} invalid, ${((Date.now() - started) / 1000).toFixed(2)} s`,
    );
  }
  return failures === 0 ? 0 : 1;
}

main().then(
  (code) => (process.exitCode = code),
  (e: Error) => {
    console.error(e.message);
    process.exitCode = 2;
  },
);

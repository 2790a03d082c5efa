// CLI: `node <bundle> <cdktf.out | stacks dir | stack dir>`; prints one line per issue, exits 1 on any.
import { loadDefaultSchemas } from "./provider-schema";
import { checkSynthOutput, formatIssue } from "./schema-check";

function main(): number {
  const target = process.argv[2] ?? "cdktf.out";
  const started = Date.now();
  const schemas = loadDefaultSchemas();
  const { stacks, issues } = checkSynthOutput(target, schemas);
  for (const issue of issues) console.log(formatIssue(issue));
  const elapsed = ((Date.now() - started) / 1000).toFixed(2);
  console.log(
    `schema-check: ${stacks.length} stack(s) [${stacks.join(", ")}], ${issues.length} issue(s), ${elapsed} s`,
  );
  return issues.length === 0 ? 0 : 1;
}

process.exitCode = main();

// Locates the pinned Terraform for the validate gate: $TERRAFORM_BIN, then the source build that
// install-terraform.sh leaves in .tmp/bin, then PATH.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

export const TERRAFORM_VERSION = "1.11.4";

export function findTerraform(repoRoot = process.cwd()): string | undefined {
  const candidates = [process.env.TERRAFORM_BIN, join(repoRoot, ".tmp/bin/terraform"), "terraform"].filter(
    (c): c is string => !!c,
  );
  for (const candidate of candidates) {
    if (candidate.includes("/") && !existsSync(candidate)) continue;
    try {
      const out = execFileSync(candidate, ["version"], {
        encoding: "utf8",
        env: { ...process.env, TF_CLI_CONFIG_FILE: "/dev/null", CHECKPOINT_DISABLE: "1" },
      });
      if (out.startsWith(`Terraform v${TERRAFORM_VERSION}\n`)) return candidate;
    } catch {
      // not installed here; try the next candidate
    }
  }
  return undefined;
}

/** The pinned Terraform; a missing one fails the validate tests with the command that installs it. */
export function requireTerraform(repoRoot = process.cwd()): string {
  const terraform = findTerraform(repoRoot);
  if (!terraform) {
    throw new Error(
      `Terraform ${TERRAFORM_VERSION} is not in .tmp/bin or on PATH: run \`bash scripts/ci/ensure-test-tools.sh\` (npm test runs it first)`,
    );
  }
  return terraform;
}

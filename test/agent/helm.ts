// Locates the helm binary for the chart checks (.tmp/bin, where `npm test` builds it, then PATH) and runs it.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import { requireTool } from "../support/tools";

export const CHART_DIR = resolve(__dirname, "../../charts/htc-agent");
/** Kubernetes minor the grid deploys (computePlane.kubernetesVersion default). */
export const KUBE_VERSION = "1.31";

/** The helm binary; a missing one fails the chart tests with the command that installs it. */
export function requireHelm(): string {
  return requireTool("helm");
}

/** Runs a helm command and returns stdout; stderr is included in the error when it fails. */
export function runHelm(helm: string, args: string[]): string {
  return execFileSync(helm, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 30_000 });
}

/** `helm template` with the given values (written to a temporary file); returns the parsed objects. */
export function renderChart(
  helm: string,
  values?: unknown,
  extraArgs: string[] = [],
): Record<string, unknown>[] {
  const dir = mkdtempSync(join(tmpdir(), "htc-agent-values-"));
  try {
    const args = [
      "template",
      "htc-agent",
      CHART_DIR,
      "--namespace",
      "default",
      "--kube-version",
      KUBE_VERSION,
    ];
    if (values !== undefined) {
      const file = join(dir, "values.json");
      writeFileSync(file, JSON.stringify(values));
      args.push("--values", file);
    }
    const out = runHelm(helm, [...args, ...extraArgs]);
    return parseAllDocuments(out)
      .map((doc) => {
        if (doc.errors.length > 0) throw new Error(`rendered YAML is invalid: ${doc.errors[0]!.message}`);
        return doc.toJS() as Record<string, unknown> | null;
      })
      .filter((obj): obj is Record<string, unknown> => obj !== null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

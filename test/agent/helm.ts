// Locates the helm binary for the chart checks: PATH first, then where scripts/ci/install-helm.sh puts it.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";

export const CHART_DIR = resolve(__dirname, "../../charts/htc-agent");
/** Kubernetes minor the grid deploys (computePlane.kubernetesVersion default). */
export const KUBE_VERSION = "1.31";

export function findHelm(): string | undefined {
  const candidates = [
    ...(process.env.PATH ?? "")
      .split(delimiter)
      .filter(Boolean)
      .map((dir) => join(dir, "helm")),
    join(process.env.HELM_BIN_DIR ?? join(homedir(), "go", "bin"), "helm"),
  ];
  return candidates.find((path) => existsSync(path));
}

/** In CI a missing helm fails the chart tests; locally they are skipped with a message. */
export function helmOrSkip(): { helm: string | undefined; skip: boolean } {
  const helm = findHelm();
  const inCi = process.env.CI === "true";
  if (!helm && !inCi) {
    console.warn(
      "helm not found on PATH or in $HOME/go/bin: skipping chart checks (run scripts/ci/install-helm.sh)",
    );
  }
  return { helm, skip: !helm && !inCi };
}

export function requireHelm(helm: string | undefined): string {
  if (!helm) throw new Error("helm is required in CI: run scripts/ci/install-helm.sh first");
  return helm;
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

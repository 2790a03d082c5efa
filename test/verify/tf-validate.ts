// Runs Terraform's own `terraform validate` on synthesized stacks, offline: the providers each stack
// requires are replaced by the test-only schema server (tf-schema-provider.ts), installed in a
// `-plugin-dir` layout under the version the stack pins.
import { execFile } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { buildSync } from "esbuild";
import { findStackFiles } from "./schema-check";

const run = promisify(execFile);

/** Sources of the gate (this folder), also when this module runs bundled from elsewhere. */
const VERIFY_DIR = existsSync(join(__dirname, "tf-schema-provider.ts"))
  ? __dirname
  : resolve(process.cwd(), "test/verify");

/** Binding package that carries each provider's schema, by provider local name. */
export const BINDING_PACKAGES: Record<string, string> = {
  aws: "@cdktf/provider-aws",
  kubernetes: "@cdktf/provider-kubernetes",
  helm: "@cdktf/provider-helm",
};

export interface ValidateDiagnostic {
  readonly severity: "error" | "warning";
  readonly summary: string;
  readonly detail?: string;
  readonly address?: string;
  readonly range?: { filename: string; start: { line: number } };
}

export interface StackValidation {
  readonly stack: string;
  readonly valid: boolean;
  readonly diagnostics: ValidateDiagnostic[];
  readonly seconds: number;
}

interface RequiredProvider {
  name: string;
  source: string;
  version: string;
}

function goPlatform(): string {
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  return `${process.platform}_${arch}`;
}

/** The providers a stack requires, with the registry source normalized to `namespace/type`. */
export function requiredProviders(doc: {
  terraform?: { required_providers?: Record<string, { source?: string; version?: string }> };
}): RequiredProvider[] {
  return Object.entries(doc.terraform?.required_providers ?? {}).map(([name, req]) => {
    const source = (req.source ?? name).replace(/^registry\.terraform\.io\//, "");
    const version = (req.version ?? "").trim();
    if (!/^\d+\.\d+\.\d+$/.test(version))
      throw new Error(
        `provider "${name}" must pin an exact version for offline validation, got "${req.version}"`,
      );
    return { name, source: source.includes("/") ? source : `hashicorp/${source}`, version };
  });
}

/**
 * Bundles the schema server once and lays out a plugin dir holding a wrapper executable for every
 * provider version the given stacks require. Returns the plugin dir.
 */
export function preparePluginDir(stackFiles: string[], workDir: string, repoRoot = process.cwd()): string {
  const serverDir = join(workDir, "server");
  mkdirSync(serverDir, { recursive: true });
  buildSync({
    entryPoints: [join(VERIFY_DIR, "tf-schema-provider.ts")],
    bundle: true,
    platform: "node",
    packages: "external",
    outfile: join(serverDir, "tf-schema-provider.js"),
    logLevel: "warning",
  });
  cpSync(join(VERIFY_DIR, "proto"), join(serverDir, "proto"), { recursive: true });
  const nodeModules = resolve(repoRoot, "node_modules");
  const pluginDir = join(workDir, "plugins");
  for (const file of stackFiles) {
    for (const p of requiredProviders(JSON.parse(readFileSync(file, "utf8")))) {
      const binding = BINDING_PACKAGES[p.name];
      if (!binding) throw new Error(`no binding package known for provider "${p.name}" (${p.source})`);
      const [namespace, type] = p.source.split("/");
      const exe = join(
        pluginDir,
        "registry.terraform.io",
        namespace,
        type,
        p.version,
        goPlatform(),
        `terraform-provider-${type}_v${p.version}`,
      );
      mkdirSync(dirname(exe), { recursive: true });
      writeFileSync(
        exe,
        [
          "#!/bin/sh",
          `export NODE_PATH='${nodeModules}'`,
          `export TF_SCHEMA_PROVIDER_NODE_MODULES='${nodeModules}'`,
          `exec '${process.execPath}' '${join(serverDir, "tf-schema-provider.js")}' '${binding}'`,
          "",
        ].join("\n"),
      );
      chmodSync(exe, 0o755);
    }
  }
  return pluginDir;
}

/** `terraform init -backend=false` + `terraform validate -json` on a copy of one stack directory. */
export async function validateStack(
  stack: string,
  stackFile: string,
  pluginDir: string,
  terraform: string,
  workDir: string,
): Promise<StackValidation> {
  const started = Date.now();
  const dir = join(workDir, "stacks", stack);
  cpSync(dirname(stackFile), dir, { recursive: true, filter: (src) => !src.includes(`${"/"}.terraform`) });
  const cliConfig = join(workDir, "terraformrc");
  writeFileSync(cliConfig, "");
  const env = {
    ...process.env,
    TF_CLI_CONFIG_FILE: cliConfig,
    TF_IN_AUTOMATION: "1",
    CHECKPOINT_DISABLE: "1",
    TF_INPUT: "0",
  };
  const options = { cwd: dir, env, maxBuffer: 64 * 1024 * 1024, timeout: 180_000 };
  try {
    await run(
      terraform,
      ["init", "-backend=false", `-plugin-dir=${pluginDir}`, "-input=false", "-no-color"],
      options,
    );
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    const summary = `terraform init failed: ${(err.stderr || err.stdout || err.message).trim()}`;
    return {
      stack,
      valid: false,
      diagnostics: [{ severity: "error", summary }],
      seconds: (Date.now() - started) / 1000,
    };
  }
  const validate = async () => {
    let stdout: string;
    try {
      stdout = (await run(terraform, ["validate", "-json", "-no-color"], options)).stdout;
    } catch (e) {
      // `validate -json` exits 1 on an invalid configuration but still prints its JSON report.
      stdout = (e as { stdout?: string }).stdout ?? "";
      if (!stdout.trim().startsWith("{")) throw e;
    }
    return JSON.parse(stdout) as { valid: boolean; diagnostics: ValidateDiagnostic[] };
  };
  let report = await validate();
  const missing = missingBackends(report.diagnostics);
  if (missing.size > 0) {
    // A Terraform built from the module proxy lacks the nested-module state backends (see
    // install-terraform.sh). Validate again with those remote-state lookups on the local backend and
    // say so: the rest of the configuration is still checked in full.
    const file = join(dir, "cdk.tf.json");
    writeFileSync(
      file,
      JSON.stringify(withLocalRemoteState(JSON.parse(readFileSync(file, "utf8")), missing), null, 2),
    );
    report = await validate();
    report.diagnostics.push({
      severity: "warning",
      summary: `remote-state backends ${[...missing].join(", ")} are not in this terraform build; those terraform_remote_state configs were validated with the local backend instead`,
    });
  }
  return {
    stack,
    valid: report.valid,
    diagnostics: report.diagnostics,
    seconds: (Date.now() - started) / 1000,
  };
}

function missingBackends(diagnostics: ValidateDiagnostic[]): Set<string> {
  const names = diagnostics.map((d) => /There is no backend type named "([\w-]+)"/.exec(d.detail ?? "")?.[1]);
  return new Set(names.filter((n): n is string => !!n));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function withLocalRemoteState(doc: any, backends: Set<string>): unknown {
  for (const config of Object.values(doc.data?.terraform_remote_state ?? {}) as {
    backend?: string;
    config?: unknown;
  }[]) {
    if (config.backend && backends.has(config.backend)) {
      config.backend = "local";
      config.config = { path: "terraform.tfstate" };
    }
  }
  return doc;
}

/** Validates every stack under a cdktf output dir; a work dir in the OS temp dir is removed afterwards. */
export async function validateSynthOutput(
  target: string,
  terraform = "terraform",
): Promise<StackValidation[]> {
  const files = findStackFiles(target);
  if (files.length === 0) throw new Error(`no cdk.tf.json found under ${target}`);
  const workDir = mkdtempSync(join(tmpdir(), "htc-tf-validate-"));
  try {
    const pluginDir = preparePluginDir(
      files.map((f) => f.file),
      workDir,
    );
    const results: StackValidation[] = [];
    for (const { stack, file } of files)
      results.push(await validateStack(stack, file, pluginDir, terraform, workDir));
    return results;
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

export function formatDiagnostic(stack: string, d: ValidateDiagnostic): string {
  const where = d.address ?? (d.range ? `${d.range.filename}:${d.range.start.line}` : "");
  return `${stack}: ${d.severity}: ${d.summary}${where ? ` (${where})` : ""}${d.detail ? `: ${d.detail.replace(/\s+/g, " ")}` : ""}`;
}

// What the fetch step does in a pod, as one JSON document (the chart writes it into the init container's
// arguments): which S3 objects to download where, and how to assemble the agent configuration file. Checked
// here so a bad plan stops the pod with one line naming the field.

export interface FetchObject {
  readonly bucket: string;
  readonly key: string;
  /** Fetch exactly this version (the one the release was made for); empty = the current one. */
  readonly versionId?: string;
  /** Expected SHA-256 (hex) of the object; empty = not checked. */
  readonly sha256?: string;
  /** Write the object to this file (mode 0444)... */
  readonly file?: string;
  /** ...or extract it, a zip, into this directory. */
  readonly unzip?: string;
}

export interface ConfigAssembly {
  /** The public agent configuration (JSON, from the ConfigMap). */
  readonly public: string;
  /** Directory holding one file per secret field (from the Secret). */
  readonly secrets: string;
  /** Secret fields to merge in. */
  readonly keys: readonly string[];
  /** The complete file the agent and the worker read (mode 0440). */
  readonly target: string;
}

export interface FetchPlan {
  readonly region: string;
  /** DNS suffix of the partition's endpoints. @default "amazonaws.com" */
  readonly dnsSuffix?: string;
  /** S3 endpoint override (`http://127.0.0.1:4569` for tests); implies path-style requests. */
  readonly endpoint?: string;
  readonly objects: readonly FetchObject[];
  readonly config?: ConfigAssembly;
}

export class PlanError extends Error {}

const isString = (v: unknown): v is string => typeof v === "string";

function text(where: string, value: unknown, required: boolean): string | undefined {
  if (value === undefined || value === null || value === "") {
    if (required) throw new PlanError(`${where} is required`);
    return undefined;
  }
  if (!isString(value)) throw new PlanError(`${where} must be a string, got ${JSON.stringify(value)}`);
  return value;
}

function absolute(where: string, value: string | undefined): string | undefined {
  if (value !== undefined && !value.startsWith("/"))
    throw new PlanError(`${where} must be an absolute path, got ${JSON.stringify(value)}`);
  return value;
}

/** Parses and checks the plan text; throws PlanError naming the field. */
export function parsePlan(raw: string): FetchPlan {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(raw) as Record<string, unknown>;
  } catch (error) {
    throw new PlanError(`the fetch plan is not JSON: ${(error as Error).message}`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc))
    throw new PlanError("the fetch plan must be an object");
  const region = text("region", doc.region, true)!;
  const endpoint = text("endpoint", doc.endpoint, false);
  if (endpoint !== undefined && !/^https?:\/\/[^/]+\/?$/.test(endpoint))
    throw new PlanError(`endpoint must be http(s)://host[:port], got ${JSON.stringify(endpoint)}`);
  if (!Array.isArray(doc.objects)) throw new PlanError("objects must be a list");
  const objects = doc.objects.map((o: unknown, i: number): FetchObject => {
    const where = `objects[${i}]`;
    if (!o || typeof o !== "object") throw new PlanError(`${where} must be an object`);
    const r = o as Record<string, unknown>;
    const file = absolute(`${where}.file`, text(`${where}.file`, r.file, false));
    const unzip = absolute(`${where}.unzip`, text(`${where}.unzip`, r.unzip, false));
    if ((file === undefined) === (unzip === undefined))
      throw new PlanError(`${where} needs exactly one of file or unzip`);
    const sha256 = text(`${where}.sha256`, r.sha256, false);
    if (sha256 !== undefined && !/^[0-9a-f]{64}$/.test(sha256))
      throw new PlanError(`${where}.sha256 must be 64 lowercase hex digits, got ${JSON.stringify(sha256)}`);
    return {
      bucket: text(`${where}.bucket`, r.bucket, true)!,
      key: text(`${where}.key`, r.key, true)!,
      versionId: text(`${where}.versionId`, r.versionId, false),
      sha256,
      file,
      unzip,
    };
  });
  let config: ConfigAssembly | undefined;
  if (doc.config !== undefined && doc.config !== null) {
    const c = doc.config as Record<string, unknown>;
    if (!Array.isArray(c.keys) || !c.keys.every(isString))
      throw new PlanError("config.keys must be a list of secret field names");
    for (const key of c.keys)
      if (!/^[A-Za-z0-9_.-]+$/.test(key))
        throw new PlanError(`config.keys: ${JSON.stringify(key)} is not a field name`);
    config = {
      public: absolute("config.public", text("config.public", c.public, true))!,
      secrets: absolute("config.secrets", text("config.secrets", c.secrets, true))!,
      keys: c.keys,
      target: absolute("config.target", text("config.target", c.target, true))!,
    };
  }
  return { region, dnsSuffix: text("dnsSuffix", doc.dnsSuffix, false), endpoint, objects, config };
}

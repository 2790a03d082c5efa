// Grid policy rules over parsed cdk.tf.json documents: what generic scanners miss or cannot be told
// (the grid's own tag set, its IAM allow-list, secrets inside ConfigMap JSON). Pure functions; each
// returns the violations it finds, so a test or the verify CLI decides what to do with them.
import { parseJsonencode, type HclValue } from "./hcl-value";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type StackDoc = Record<string, any>;

export interface Violation {
  readonly rule: string;
  /** Terraform address, e.g. `aws_kms_key.key` or `output.token`. */
  readonly address: string;
  readonly message: string;
}

type Config = Record<string, unknown>;

function instances(doc: StackDoc, section: "resource" | "data", ...types: string[]): [string, Config][] {
  const out: [string, Config][] = [];
  for (const type of types) {
    for (const [name, config] of Object.entries((doc[section]?.[type] ?? {}) as Record<string, Config>)) {
      out.push([`${section === "data" ? "data." : ""}${type}.${name}`, config]);
    }
  }
  return out;
}

/** A nested block as cdktf writes it: one object, or a list of them. */
function blockItems(value: unknown): Config[] {
  if (Array.isArray(value)) return value.filter((v): v is Config => typeof v === "object" && v !== null);
  return typeof value === "object" && value !== null ? [value as Config] : [];
}

const isTrue = (v: unknown) => v === true || v === "true";
const present = (v: unknown) => v !== undefined && v !== null && v !== "";
const asList = (v: unknown): unknown[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);

/** Every KMS key rotates its key material. */
export function kmsKeyRotation(doc: StackDoc): Violation[] {
  return instances(doc, "resource", "aws_kms_key")
    .filter(([, c]) => !isTrue(c.enable_key_rotation))
    .map(([address]) => ({ rule: "kms-key-rotation", address, message: "enable_key_rotation must be true" }));
}

/** Every log group has a retention period and is encrypted with a customer key. */
export function logGroupRetentionAndKms(doc: StackDoc): Violation[] {
  const out: Violation[] = [];
  for (const [address, c] of instances(doc, "resource", "aws_cloudwatch_log_group")) {
    if (!present(c.retention_in_days) || c.retention_in_days === 0)
      out.push({
        rule: "log-group-retention",
        address,
        message: "retention_in_days must be set (logs otherwise never expire)",
      });
    if (!present(c.kms_key_id))
      out.push({ rule: "log-group-kms", address, message: "kms_key_id must be set" });
  }
  return out;
}

/** Every launch template requires IMDSv2 session tokens. */
export function launchTemplateImdsv2(doc: StackDoc): Violation[] {
  return instances(doc, "resource", "aws_launch_template")
    .filter(([, c]) => blockItems(c.metadata_options)[0]?.http_tokens !== "required")
    .map(([address]) => ({
      rule: "launch-template-imdsv2",
      address,
      message: 'metadata_options.http_tokens must be "required" (IMDSv2)',
    }));
}

// ---------------------------------------------------------------------------------------------
// IAM statements

/** One policy statement normalized from a policy document data source or an inline JSON policy. */
export interface Statement {
  readonly source: string;
  readonly sid?: string;
  readonly effect: string;
  readonly actions: string[];
  readonly notActions: string[];
  readonly resources: string[];
  /** `Condition` as test -> variable -> values. */
  readonly conditions: { test: string; variable: string; values: string[] }[];
}

/** Resources (and attributes) whose value is an inline IAM policy document. */
const INLINE_POLICY_ATTRIBUTES: Record<string, string[]> = {
  aws_iam_policy: ["policy"],
  aws_iam_role_policy: ["policy"],
  aws_iam_user_policy: ["policy"],
  aws_iam_group_policy: ["policy"],
  aws_iam_role: ["assume_role_policy"],
  aws_kms_key: ["policy"],
  aws_kms_key_policy: ["policy"],
  aws_s3_bucket: ["policy"],
  aws_s3_bucket_policy: ["policy"],
  aws_sqs_queue: ["policy"],
  aws_sqs_queue_policy: ["policy"],
  aws_sns_topic: ["policy"],
  aws_sns_topic_policy: ["policy"],
  aws_secretsmanager_secret_policy: ["policy"],
  aws_ecr_repository_policy: ["policy"],
};

const strings = (v: unknown): string[] => asList(v).filter((x): x is string => typeof x === "string");

function statementsOfDocument(source: string, c: Config): Statement[] {
  return blockItems(c.statement).map((s) => ({
    source,
    sid: typeof s.sid === "string" ? s.sid : undefined,
    effect: typeof s.effect === "string" ? s.effect : "Allow",
    actions: strings(s.actions),
    notActions: strings(s.not_actions),
    resources: [...strings(s.resources), ...(s.not_resources ? ["<NotResource>"] : [])],
    conditions: blockItems(s.condition).map((k) => ({
      test: String(k.test),
      variable: String(k.variable),
      values: strings(k.values),
    })),
  }));
}

function statementsOfJson(source: string, policy: HclValue): Statement[] {
  const doc = policy as { Statement?: unknown };
  return asList(doc?.Statement).map((raw) => {
    const s = raw as Record<string, unknown>;
    const conditions: Statement["conditions"] = [];
    for (const [test, byVariable] of Object.entries(
      (s.Condition ?? {}) as Record<string, Record<string, unknown>>,
    )) {
      for (const [variable, values] of Object.entries(byVariable ?? {}))
        conditions.push({ test, variable, values: asList(values).map(String) });
    }
    return {
      source,
      sid: typeof s.Sid === "string" ? s.Sid : undefined,
      effect: typeof s.Effect === "string" ? s.Effect : "Allow",
      actions: strings(s.Action),
      notActions: strings(s.NotAction),
      resources: [...strings(s.Resource), ...(s.NotResource ? ["<NotResource>"] : [])],
      conditions,
    };
  });
}

/**
 * Parses an inline policy value: a JSON string, or `${jsonencode(...)}`. Returns `"reference"` for a
 * plain reference (e.g. to a policy document data source, which is checked where it is declared)
 * and undefined when the value cannot be read statically.
 */
export function parseInlinePolicy(value: unknown): HclValue | "reference" | undefined {
  if (typeof value !== "string")
    return typeof value === "object" && value !== null ? (value as HclValue) : undefined;
  if (/^\$\{data\.aws_iam_policy_document\.[\w-]+\.(json|minified_json)\}$/.test(value)) return "reference";
  const encoded = parseJsonencode(value);
  if (encoded !== undefined) return encoded;
  try {
    return JSON.parse(value) as HclValue;
  } catch {
    return undefined;
  }
}

/** All statements of a stack, plus the inline policies that could not be read. */
export function collectStatements(doc: StackDoc): { statements: Statement[]; unreadable: Violation[] } {
  const statements: Statement[] = [];
  const unreadable: Violation[] = [];
  for (const [address, c] of instances(doc, "data", "aws_iam_policy_document"))
    statements.push(...statementsOfDocument(address, c));
  for (const [type, attributes] of Object.entries(INLINE_POLICY_ATTRIBUTES)) {
    for (const [address, c] of instances(doc, "resource", type)) {
      const values = [
        ...attributes.map((a) => [a, c[a]] as const),
        ...blockItems(c.inline_policy).map((p) => ["inline_policy", p.policy] as const),
      ];
      for (const [attribute, value] of values) {
        if (value === undefined || value === null) continue;
        const parsed = parseInlinePolicy(value);
        if (parsed === "reference") continue;
        if (parsed === undefined)
          unreadable.push({
            rule: "iam-unreadable-policy",
            address,
            message: `${attribute} cannot be read statically; build it with a policy document or jsonencode`,
          });
        else statements.push(...statementsOfJson(`${address}.${attribute}`, parsed));
      }
    }
  }
  return { statements, unreadable };
}

/** Action names (after `service:`) that only read. Anything else counts as a write. */
const READ_ACTION =
  /^(Get|List|Describe|Head|View|Read|Query|Scan|Search|BatchGet|Lookup|Check|Validate|Test|Estimate|Preview|Simulate|Poll)/;

export function isWriteAction(action: string): boolean {
  if (action === "*") return true;
  const name = action.includes(":") ? action.slice(action.indexOf(":") + 1) : action;
  if (name === "*" || name === "") return true;
  return !READ_ACTION.test(name);
}

/** A statement that comes from a KMS key policy (`aws_kms_key.*.policy` or `aws_kms_key_policy.*.policy`). */
export function isKeyPolicy(source: string): boolean {
  return /^aws_kms_key(_policy)?\.[^.]+\.policy$/.test(source);
}

/** Statement ids allowed to break the wildcard rule, each with the reason it is acceptable. */
export type WildcardAllowList = Readonly<Record<string, string>>;

/**
 * No Allow statement grants `*` actions (or uses NotAction), nor write actions on `*` resources,
 * unless its sid is in the allow-list with a written reason.
 */
export function iamWildcards(doc: StackDoc, allow: WildcardAllowList = {}): Violation[] {
  for (const [sid, reason] of Object.entries(allow)) {
    if (!reason || reason.trim().length < 10)
      throw new Error(`IAM allow-list entry "${sid}" needs a written reason`);
  }
  const { statements, unreadable } = collectStatements(doc);
  const out: Violation[] = [...unreadable];
  for (const s of statements) {
    if (s.effect !== "Allow" || (s.sid && allow[s.sid])) continue;
    const label = s.sid ? `statement "${s.sid}"` : "a statement without sid";
    if (s.actions.includes("*") || s.actions.includes("*:*"))
      out.push({
        rule: "iam-wildcard-action",
        address: s.source,
        message: `${label} allows every action ("*")`,
      });
    else if (s.notActions.length > 0)
      out.push({
        rule: "iam-wildcard-action",
        address: s.source,
        message: `${label} allows everything but ${s.notActions.join(", ")} (NotAction)`,
      });
    // In a key policy, Resource "*" means the key the policy is attached to, not every resource.
    else if (isKeyPolicy(s.source)) continue;
    else if (s.resources.includes("*") || s.resources.includes("<NotResource>")) {
      const writes = s.actions.filter(isWriteAction);
      if (writes.length > 0)
        out.push({
          rule: "iam-wildcard-resource",
          address: s.source,
          message: `${label} allows write actions ${writes.join(", ")} on every resource ("*")`,
        });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// TLS-only resource policies

function isTlsDeny(s: Statement): boolean {
  return (
    s.effect === "Deny" &&
    s.conditions.some(
      (c) =>
        c.test === "Bool" &&
        c.variable === "aws:SecureTransport" &&
        c.values.length === 1 &&
        c.values[0] === "false",
    )
  );
}

/** Statements of a policy value (inline, jsonencode, or a reference to a policy document). */
function statementsOfValue(doc: StackDoc, value: unknown, source: string): Statement[] {
  const parsed = parseInlinePolicy(value);
  if (parsed === "reference") {
    const name = /^\$\{data\.aws_iam_policy_document\.([\w-]+)\./.exec(value as string)?.[1] ?? "";
    const data = doc.data?.aws_iam_policy_document?.[name] as Config | undefined;
    return data ? statementsOfDocument(`data.aws_iam_policy_document.${name}`, data) : [];
  }
  return parsed === undefined ? [] : statementsOfJson(source, parsed);
}

/** Every S3 bucket and SQS queue has a resource policy that denies requests made without TLS. */
export function tlsOnlyPolicies(doc: StackDoc): Violation[] {
  const out: Violation[] = [];
  const targets = [
    {
      type: "aws_s3_bucket",
      policyType: "aws_s3_bucket_policy",
      link: "bucket",
      attributes: ["id", "bucket"],
    },
    {
      type: "aws_sqs_queue",
      policyType: "aws_sqs_queue_policy",
      link: "queue_url",
      attributes: ["id", "url"],
    },
  ];
  for (const t of targets) {
    const policies = instances(doc, "resource", t.policyType);
    for (const [address, c] of instances(doc, "resource", t.type)) {
      const name = address.slice(t.type.length + 1);
      const refs = t.attributes.map((a) => `\${${t.type}.${name}.${a}}`);
      const values = [
        c.policy,
        ...policies.filter(([, p]) => refs.includes(p[t.link] as string)).map(([, p]) => p.policy),
      ];
      const ok = values.some((v) => v !== undefined && statementsOfValue(doc, v, address).some(isTlsDeny));
      if (!ok)
        out.push({
          rule: "tls-only-policy",
          address,
          message: "needs a policy statement denying aws:SecureTransport = false",
        });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Secrets in plain text

const SECRET_KEY = /(password|passwd|secret|token|private[_-]?key|api[_-]?key|access[_-]?key|credential)/i;
/** Keys that name where a secret lives rather than hold it. */
const SECRET_POINTER_KEY = /(arn|name|id|path|ref|file|secret_?manager.*)$/i;
const SECRET_VALUE = [/AKIA[0-9A-Z]{16}/, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, /aws_secret_access_key/i];
/** References to attributes that carry secret material. */
const SECRET_REFERENCE =
  /\.(secret_string|secret_binary|password|master_password|auth_token|secret|secret_access_key|private_key|private_key_pem|token|ses_smtp_password_v4)\b/;

function secretFindings(key: string, value: unknown, at: string, out: string[]): void {
  if (typeof value === "string") {
    const parsed = value.trim().startsWith("{") ? tryJson(value) : undefined;
    if (parsed !== undefined) {
      secretFindings(key, parsed, at, out);
      return;
    }
    if (SECRET_KEY.test(key) && !SECRET_POINTER_KEY.test(key) && value !== "")
      out.push(`${at} looks like a secret (key "${key}")`);
    else if (SECRET_VALUE.some((r) => r.test(value))) out.push(`${at} holds secret material`);
    else if (SECRET_REFERENCE.test(value))
      out.push(`${at} copies a secret attribute (${SECRET_REFERENCE.exec(value)?.[0]})`);
  } else if (Array.isArray(value)) value.forEach((v, i) => secretFindings(key, v, `${at}[${i}]`, out));
  else if (typeof value === "object" && value !== null)
    for (const [k, v] of Object.entries(value)) secretFindings(k, v, `${at}.${k}`, out);
}

function tryJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

/** No secret in a Kubernetes ConfigMap (including JSON documents inside it) or a non-sensitive output. */
export function noPlainTextSecrets(doc: StackDoc): Violation[] {
  const out: Violation[] = [];
  for (const [address, c] of instances(
    doc,
    "resource",
    "kubernetes_config_map",
    "kubernetes_config_map_v1",
  )) {
    const findings: string[] = [];
    for (const attribute of ["data", "binary_data"]) {
      for (const [k, v] of Object.entries((c[attribute] ?? {}) as Config))
        secretFindings(k, v, `${attribute}.${k}`, findings);
    }
    for (const f of findings) out.push({ rule: "secret-in-configmap", address, message: f });
  }
  for (const [name, o] of Object.entries((doc.output ?? {}) as Record<string, Config>)) {
    if (isTrue(o.sensitive)) continue;
    const findings: string[] = [];
    secretFindings(name, o.value, "value", findings);
    for (const f of findings)
      out.push({
        rule: "secret-in-output",
        address: `output.${name}`,
        message: `${f}; mark the output sensitive or drop it`,
      });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Tags

/**
 * Every taggable resource carries the required tags, counting the provider's default_tags (of the
 * provider instance the resource uses). `taggable` lists the resource types with a `tags` argument
 * (see `taggableTypes` in verify-stacks.ts, derived from the provider schema).
 */
export function requiredTags(
  doc: StackDoc,
  required: Readonly<Record<string, string | undefined>>,
  taggable: ReadonlySet<string>,
): Violation[] {
  const defaults = new Map<string, Config>();
  const providerConfigs = asList(doc.provider?.aws) as Config[];
  for (const p of providerConfigs) {
    const tags = Object.assign(
      {},
      ...blockItems(p.default_tags).map((d) => (d.tags ?? {}) as Config),
    ) as Config;
    defaults.set(typeof p.alias === "string" ? `aws.${p.alias}` : "aws", tags);
  }
  const out: Violation[] = [];
  for (const [type, byName] of Object.entries(
    (doc.resource ?? {}) as Record<string, Record<string, Config>>,
  )) {
    if (!taggable.has(type)) continue;
    for (const [name, c] of Object.entries(byName)) {
      const address = `${type}.${name}`;
      if (typeof c.tags === "string") {
        out.push({
          rule: "required-tags",
          address,
          message: "tags is an expression; the required tags cannot be checked statically",
        });
        continue;
      }
      const provider = typeof c.provider === "string" ? c.provider : "aws";
      const effective = { ...(defaults.get(provider) ?? {}), ...((c.tags ?? {}) as Config) };
      for (const [key, value] of Object.entries(required)) {
        if (!(key in effective))
          out.push({ rule: "required-tags", address, message: `missing tag "${key}"` });
        else if (value !== undefined && effective[key] !== value && !String(effective[key]).includes("${"))
          out.push({
            rule: "required-tags",
            address,
            message: `tag "${key}" is "${String(effective[key])}", expected "${value}"`,
          });
      }
    }
  }
  return out;
}

export interface PolicyOptions {
  readonly iamAllowList?: WildcardAllowList;
  readonly requiredTags: Readonly<Record<string, string | undefined>>;
  readonly taggable: ReadonlySet<string>;
}

/** All rules on one stack. */
export function checkPolicies(doc: StackDoc, options: PolicyOptions): Violation[] {
  return [
    ...kmsKeyRotation(doc),
    ...logGroupRetentionAndKms(doc),
    ...iamWildcards(doc, options.iamAllowList),
    ...launchTemplateImdsv2(doc),
    ...noPlainTextSecrets(doc),
    ...tlsOnlyPolicies(doc),
    ...requiredTags(doc, options.requiredTags, options.taggable),
  ];
}

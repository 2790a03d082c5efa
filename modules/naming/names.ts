// One helper for every physical AWS name: `<base>-<project_name>` (upstream's convention), shortened
// deterministically when a service's length limit would be exceeded, so every name says which grid owns it.
import { createHash } from "node:crypto";

/** Per-service name rules: maximum length and the characters the service accepts. */
export const NAME_RULES = {
  s3Bucket: { max: 63, pattern: /^[a-z0-9][a-z0-9-]*[a-z0-9]$/, lowercase: true },
  sqsQueue: { max: 80, pattern: /^[A-Za-z0-9_-]+$/, lowercase: false },
  dynamodbTable: { max: 255, pattern: /^[A-Za-z0-9_.-]+$/, lowercase: false },
  lambdaFunction: { max: 64, pattern: /^[A-Za-z0-9_-]+$/, lowercase: false },
  iamRole: { max: 64, pattern: /^[A-Za-z0-9+=,.@_-]+$/, lowercase: false },
  iamPolicy: { max: 128, pattern: /^[A-Za-z0-9+=,.@_-]+$/, lowercase: false },
  logGroup: { max: 512, pattern: /^[A-Za-z0-9_\-/.#]+$/, lowercase: false },
  eksCluster: { max: 100, pattern: /^[A-Za-z0-9][A-Za-z0-9_-]*$/, lowercase: false },
  eksNodeGroup: { max: 63, pattern: /^[A-Za-z0-9][A-Za-z0-9_-]*$/, lowercase: false },
  ecrRepository: { max: 256, pattern: /^[a-z0-9][a-z0-9._/-]*$/, lowercase: true },
  elasticacheId: { max: 40, pattern: /^[a-z][a-z0-9-]*[a-z0-9]$/, lowercase: true },
  cognitoDomain: { max: 63, pattern: /^[a-z0-9][a-z0-9-]*[a-z0-9]$/, lowercase: true },
  kmsAlias: { max: 250, pattern: /^[A-Za-z0-9/_-]+$/, lowercase: false },
  securityGroup: { max: 255, pattern: /^[A-Za-z0-9 ._\-:/()#,@[\]+=&;{}!$*]+$/, lowercase: false },
  apiGateway: { max: 1024, pattern: /^.+$/, lowercase: false },
  secret: { max: 512, pattern: /^[A-Za-z0-9/_+=.@-]+$/, lowercase: false },
  eventRule: { max: 64, pattern: /^[A-Za-z0-9._-]+$/, lowercase: false },
  generic: { max: 255, pattern: /^.+$/, lowercase: false },
} as const;

export type NameKind = keyof typeof NAME_RULES;

/** Project names become part of every name (S3 buckets included), so they are short lowercase DNS labels. */
export const PROJECT_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,18}[a-z0-9])?$/;

/**
 * `<base>-<projectName>` for the given service, or why the service would refuse it. When the result exceeds the
 * service's limit the base is cut and a 6-character hash of the full name is inserted, so distinct long names stay
 * distinct and stable. The configuration layer calls this for every configured base name, so a construct never
 * meets a name it cannot build.
 */
export function tryPhysicalName(
  kind: NameKind,
  base: string,
  projectName: string,
): { name: string; error?: undefined } | { name?: undefined; error: string } {
  const rule = NAME_RULES[kind];
  const full = `${base}-${projectName}`;
  let name = rule.lowercase ? full.toLowerCase() : full;
  if (name.length > rule.max) {
    const hash = createHash("sha256").update(full).digest("hex").slice(0, 6);
    const keep = rule.max - projectName.length - hash.length - 2;
    if (keep < 1) return { error: `"${full}" cannot be shortened to ${rule.max} characters` };
    name = `${name.slice(0, keep).replace(/[-_.]+$/, "")}-${hash}-${projectName}`;
    if (rule.lowercase) name = name.toLowerCase();
  }
  if (kind === "elasticacheId") name = name.replace(/--+/g, "-");
  if (!rule.pattern.test(name)) {
    return {
      error: `"${name}" is not a valid ${kind} name (allowed: ${rule.pattern.source}, at most ${rule.max})`,
    };
  }
  return { name };
}

/** `tryPhysicalName`, for names the configuration layer has already checked (throws on a wiring bug). */
export function physicalName(kind: NameKind, base: string, projectName: string): string {
  const result = tryPhysicalName(kind, base, projectName);
  if (result.error !== undefined) throw new Error(result.error);
  return result.name;
}

/** Prefixes S3 reserves for its own bucket names. */
const S3_RESERVED_PREFIXES = ["xn--", "sthree-", "amzn-s3-demo-"];

/**
 * Why S3 would refuse the bucket name `<base>-<project>-<12-digit account>-<region>`, or undefined. The account id
 * is counted as 12 digits (it is a Terraform token until plan time).
 */
export function bucketNameProblem(base: string, projectName: string, region: string): string | undefined {
  const literal = `${base}-${projectName}-${"0".repeat(12)}-${region}`;
  if (literal.length > NAME_RULES.s3Bucket.max)
    return `bucket name "${literal}" has ${literal.length} characters; S3 allows ${NAME_RULES.s3Bucket.max}`;
  if (!NAME_RULES.s3Bucket.pattern.test(literal))
    return `bucket name "${literal}" may only hold lowercase letters, digits and hyphens, starting with a letter or digit`;
  const reserved = S3_RESERVED_PREFIXES.find((p) => literal.startsWith(p));
  if (reserved) return `bucket name "${literal}" starts with "${reserved}", which S3 reserves`;
  return undefined;
}

/** Grid-wide name factory bound to one project name; constructs receive this instead of re-deriving names. */
export class GridNames {
  constructor(public readonly projectName: string) {}

  /** `<base>-<project>` within `kind`'s limits. */
  name(kind: NameKind, base: string): string {
    return physicalName(kind, base, this.projectName);
  }

  /**
   * Globally unique S3 bucket name `<base>-<project>-<account>-<region>`. The account id is a Terraform
   * token (resolved from the caller identity at plan time), so the length check counts it as 12 digits.
   */
  bucketName(base: string, accountId: string, region: string): string {
    const problem = bucketNameProblem(base, this.projectName, region);
    if (problem !== undefined) throw new Error(problem);
    return `${base}-${this.projectName}-${accountId}-${region}`;
  }

  /** KMS alias `alias/htc/<project>/<purpose>` (namespaced per grid so two grids share an account). */
  kmsAlias(purpose: string): string {
    const alias = `alias/htc/${this.projectName}/${purpose}`;
    if (!NAME_RULES.kmsAlias.pattern.test(alias.slice("alias/".length)) || alias.length > 256) {
      throw new Error(`"${alias}" is not a valid KMS alias`);
    }
    return alias;
  }
}

// ECR repositories for upstream's custom images and pull-through cache rules for the public registries every image
// a default grid runs comes from (stock runtime images and add-ons), plus the policy that lets nodes fill the cache
// on first pull. Repository creation templates make ECR create the cache repositories with the same key and
// untagged-image expiry as the grid's own. ghcr.io needs a credential: the secret named in the config is looked up
// at plan time, and a missing one stops the plan with a message saying how to create it.
import { Construct } from "constructs";
import { TerraformOutput } from "cdktf";
import { DataAwsSecretsmanagerSecret } from "@cdktf/provider-aws/lib/data-aws-secretsmanager-secret";
import { DataAwsSecretsmanagerSecrets } from "@cdktf/provider-aws/lib/data-aws-secretsmanager-secrets";
import { EcrLifecyclePolicy } from "@cdktf/provider-aws/lib/ecr-lifecycle-policy";
import { EcrPullThroughCacheRule } from "@cdktf/provider-aws/lib/ecr-pull-through-cache-rule";
import { EcrRepository } from "@cdktf/provider-aws/lib/ecr-repository";
import { EcrRepositoryCreationTemplate } from "@cdktf/provider-aws/lib/ecr-repository-creation-template";
import { IamPolicy } from "@cdktf/provider-aws/lib/iam-policy";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import type { AccountContext } from "../account/account-context";
import type { KmsConfig } from "../config/model";
import { GridKey } from "../kms/grid-key";
import type { GridNames } from "../naming/names";
import { PULL_THROUGH_CACHES } from "./pull-through";

/**
 * The grid's repositories, named as upstream so upstream's images and Makefiles work unchanged. ECR names are
 * per account and region, not per grid: two grids in one account and region share these repositories (and the
 * second images stack fails to create them; deploy the images stack once per account and region).
 */
export const GRID_REPOSITORIES = {
  /** The agent (`awshpc-lambda`). */
  agent: "awshpc-lambda",
  /** Lambda-compatible worker runtimes, tag = runtime (`lambda:provided`, ...). */
  lambdaRuntime: "lambda",
  /** Init container that downloads the worker zip. */
  lambdaInit: "lambda-init",
  /** Example submission jobs. */
  submitter: "submitter",
} as const;

export type GridRepository = keyof typeof GRID_REPOSITORIES;

export { PULL_THROUGH_CACHES };

/**
 * Name of the node policy. The grid stack (another state) can find the policy by this name with a data source
 * instead of rebuilding its ARN.
 */
export function pullThroughCachePolicyName(names: GridNames): string {
  return names.name("iamPolicy", "htc-ecr-pull-through-cache");
}

/** Name of the role ECR assumes to create cache repositories encrypted with the grid's ECR key. */
export function cacheCreationRoleName(names: GridNames): string {
  return names.name("iamRole", "htc-ecr-cache-creation");
}

const DEFAULTS = {
  /** Untagged images are leftovers of re-pushed tags; two weeks leaves time to roll back. */
  untaggedExpirationDays: 14,
} as const;

export interface GridImagesProps {
  readonly names: GridNames;
  readonly account: AccountContext;
  /** Deletion window and extra administrators of the repositories' key. */
  readonly kms: KmsConfig;
  /** Make tags immutable (`ecr_immutable_tags`). */
  readonly immutableTags: boolean;
  /** Teardown switch (`allow_destroy`): repositories holding images are deleted with them. @default false */
  readonly allowDestroy?: boolean;
  /**
   * Name of the Secrets Manager secret (`ecr-pullthroughcache/...`) with a GitHub token ECR uses for ghcr.io. It must
   * exist before this stack is planned; the plan refuses to go on without it.
   */
  readonly ghcrCredentialSecret: string;
  /** Days an untagged image is kept. @default 14 */
  readonly untaggedExpirationDays?: number;
}

/** Repositories, cache rules and the node policy for the cache. */
export class GridImages extends Construct {
  public readonly key: GridKey;
  public readonly repositories: Record<GridRepository, EcrRepository>;
  public readonly pullThroughCacheRules: EcrPullThroughCacheRule[] = [];
  /** One per cache prefix: KMS with the grid's key, lifecycle as the grid's repositories. */
  public readonly cacheCreationTemplates: EcrRepositoryCreationTemplate[] = [];
  /** Assumed by ECR (not by nodes) when it creates a cache repository from a template. */
  public readonly cacheCreationRole: IamRole;
  /** Attach to node roles: lets a pull create and fill a cache repository under the rules' prefixes. */
  public readonly pullThroughCachePolicy: IamPolicy;

  constructor(scope: Construct, id: string, props: GridImagesProps) {
    super(scope, id);
    const { names, account, kms } = props;
    const untaggedDays = props.untaggedExpirationDays ?? DEFAULTS.untaggedExpirationDays;
    if (!Number.isInteger(untaggedDays) || untaggedDays < 1) {
      throw new Error(
        `GridImages: untaggedExpirationDays ${untaggedDays} is not allowed; use 1 or more days`,
      );
    }

    const caches = new Construct(this, "pull-through-cache");
    const cacheRepositoryArns = Object.values(PULL_THROUGH_CACHES).map(
      (c) => `arn:${account.partition}:ecr:${account.region}:${account.accountId}:repository/${c.prefix}/*`,
    );
    // ECR creates cache repositories on first pull. A template with a KMS key needs a role of ours for ECR to
    // assume (the trust policy AWS documents for repository creation templates); without one, ECR would create
    // the repositories with AES256.
    this.cacheCreationRole = new IamRole(caches, "creation-role", {
      name: cacheCreationRoleName(names),
      description:
        "Assumed by ECR to create pull-through cache repositories encrypted with the grid's ECR key",
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Effect: "Allow", Principal: { Service: "ecr.amazonaws.com" }, Action: "sts:AssumeRole" },
        ],
      }),
    });

    this.key = new GridKey(this, "key", {
      alias: names.kmsAlias("ecr"),
      description: `HTC-Grid ${names.projectName}: ECR repositories`,
      account,
      deletionWindowDays: kms.deletionWindowDays,
      adminRoleArns: kms.adminRoleArns,
      viaServices: ["ecr"],
      principalArns: [this.cacheCreationRole.arn],
    });
    const creationPolicy = new IamRolePolicy(caches, "creation-role-policy", {
      name: "create-cache-repositories",
      role: this.cacheCreationRole.id,
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "CreateCacheRepositories",
            Effect: "Allow",
            Action: ["ecr:CreateRepository", "ecr:PutLifecyclePolicy"],
            Resource: cacheRepositoryArns,
          },
          {
            Sid: "EncryptWithGridKey",
            Effect: "Allow",
            Action: ["kms:CreateGrant", "kms:RetireGrant", "kms:DescribeKey"],
            Resource: this.key.arn,
          },
        ],
      }),
    });

    const lifecyclePolicy = JSON.stringify({
      rules: [
        {
          rulePriority: 1,
          description: `Expire untagged images after ${untaggedDays} days`,
          selection: {
            tagStatus: "untagged",
            countType: "sinceImagePushed",
            countUnit: "days",
            countNumber: untaggedDays,
          },
          action: { type: "expire" },
        },
      ],
    });
    const repositories = new Construct(this, "repositories");
    const made = {} as Record<GridRepository, EcrRepository>;
    for (const [role, name] of Object.entries(GRID_REPOSITORIES) as [GridRepository, string][]) {
      const repository = new EcrRepository(repositories, name, {
        name,
        imageTagMutability: props.immutableTags ? "IMMUTABLE" : "MUTABLE",
        imageScanningConfiguration: { scanOnPush: true },
        encryptionConfiguration: [{ encryptionType: "KMS", kmsKey: this.key.arn }],
        // A repository holding images blocks its deletion unless the teardown switch is on (upstream always
        // force-deleted; here an image someone pushed is kept unless the operator says otherwise).
        forceDelete: props.allowDestroy ?? false,
      });
      new EcrLifecyclePolicy(repositories, `${name}-lifecycle`, {
        repository: repository.name,
        policy: lifecyclePolicy,
      });
      made[role] = repository;
    }
    this.repositories = made;

    // ECR refuses ghcr.io without a credential, and a rule whose secret is missing only fails on the first pull
    // (KEDA's release would time out). Looking the secret up by name at plan time turns that into a plan error that
    // says what to create. Only the secret's metadata is read: the token never enters Terraform state.
    const ghcrSecretName = props.ghcrCredentialSecret;
    const ghcrSecrets = new DataAwsSecretsmanagerSecrets(caches, "ghcr-credential-check", {
      filter: [{ name: "name", values: [ghcrSecretName] }],
      lifecycle: {
        postcondition: [
          {
            // A raw expression: `self` only exists inside this block. The name is a checked config literal.
            condition: `\${contains(self.names, ${JSON.stringify(ghcrSecretName)})}`,
            errorMessage: `ECR's pull-through cache needs a GitHub credential for ghcr.io (KEDA's and Grafana's images): create the Secrets Manager secret ${ghcrSecretName} in this region, e.g. aws secretsmanager create-secret --name ${ghcrSecretName} --secret-string '{"username":"<github user>","accessToken":"<token that can read public packages>"}', or name another ecr-pullthroughcache/ secret in ghcr_credential_secret.`,
          },
        ],
      },
    });
    const ghcrSecret = new DataAwsSecretsmanagerSecret(caches, "ghcr-credential", {
      name: ghcrSecretName,
      dependsOn: [ghcrSecrets],
    });
    for (const cache of Object.values(PULL_THROUGH_CACHES)) {
      this.pullThroughCacheRules.push(
        new EcrPullThroughCacheRule(caches, cache.id, {
          ecrRepositoryPrefix: cache.prefix,
          upstreamRegistryUrl: cache.upstream,
          credentialArn: cache.needsCredential ? ghcrSecret.arn : undefined,
        }),
      );
      this.cacheCreationTemplates.push(
        new EcrRepositoryCreationTemplate(caches, `${cache.id}-template`, {
          prefix: cache.prefix,
          appliedFor: ["PULL_THROUGH_CACHE"],
          description: `Cache repositories of ${cache.upstream}: the grid's ECR key, untagged images expire`,
          customRoleArn: this.cacheCreationRole.arn,
          encryptionConfiguration: [{ encryptionType: "KMS", kmsKey: this.key.arn }],
          // Cached tags follow the upstream registry, which may move a tag.
          imageTagMutability: "MUTABLE",
          lifecyclePolicy,
          dependsOn: [creationPolicy],
        }),
      );
    }
    this.pullThroughCachePolicy = new IamPolicy(caches, "node-policy", {
      name: pullThroughCachePolicyName(names),
      description: "Lets EKS nodes create and fill ECR pull-through cache repositories on first pull",
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "FillPullThroughCache",
            Effect: "Allow",
            Action: ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"],
            Resource: cacheRepositoryArns,
          },
        ],
      }),
    });

    new TerraformOutput(this, "pull_through_cache_policy_arn", {
      value: this.pullThroughCachePolicy.arn,
      description: "Policy to attach to node roles so pulls through the ECR cache work",
    }).overrideLogicalId("pull_through_cache_policy_arn");
    for (const [role, repository] of Object.entries(this.repositories)) {
      const name = `${role.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}_repository_url`;
      new TerraformOutput(this, name, { value: repository.repositoryUrl }).overrideLogicalId(name);
    }
  }
}

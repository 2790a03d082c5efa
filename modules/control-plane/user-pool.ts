// Cognito user pool for the public API: users are created by an administrator only, and clients sign in with
// SRP (or admin password auth, which upstream's Python client uses).
import { Construct } from "constructs";
import { CognitoUserPool } from "@cdktf/provider-aws/lib/cognito-user-pool";
import { CognitoUserPoolClient } from "@cdktf/provider-aws/lib/cognito-user-pool-client";
import { CognitoUserPoolDomain } from "@cdktf/provider-aws/lib/cognito-user-pool-domain";
import type { AccountContext } from "../account/account-context";
import type { GridNames } from "../naming/names";
import { NAME_RULES } from "../naming/names";

/** Password policy of grid users (administrators hand out temporary passwords valid for one day). */
export const USER_POOL_PASSWORD_POLICY = {
  minimumLength: 12,
  requireLowercase: true,
  requireUppercase: true,
  requireNumbers: true,
  requireSymbols: true,
  temporaryPasswordValidityDays: 1,
} as const;

/** Sign-in flows of the app client. ADMIN_USER_PASSWORD_AUTH keeps upstream's Python connector working. */
export const USER_POOL_CLIENT_AUTH_FLOWS = [
  "ALLOW_USER_SRP_AUTH",
  "ALLOW_REFRESH_TOKEN_AUTH",
  "ALLOW_ADMIN_USER_PASSWORD_AUTH",
];

/**
 * Cognito domain prefix `htc-<project>-<account id>`. Prefixes are unique per region across all accounts, so the
 * account id makes the deterministic name collision-free (upstream used a random suffix instead), and Cognito
 * rejects any prefix containing "aws", so that substring is removed from the literal part.
 */
export function cognitoDomainPrefix(names: GridNames, accountId: string): string {
  let literal = names.name("cognitoDomain", "htc");
  // Repeat: removing one occurrence can join letters into a new one ("aawsws").
  while (literal.includes("aws")) literal = literal.replace(/aws/g, "");
  literal = literal.replace(/--+/g, "-").replace(/^-|-$/g, "");
  // 12-digit account id plus the joining dash must still fit.
  if (literal.length + 13 > NAME_RULES.cognitoDomain.max || !/^[a-z0-9]/.test(literal)) {
    throw new Error(
      `Cognito domain prefix "${literal}-<account>" is not valid for project "${names.projectName}"`,
    );
  }
  return `${literal}-${accountId}`;
}

export interface GridUserPoolProps {
  readonly names: GridNames;
  readonly account: AccountContext;
  /** Refuse deletion of the pool (its users); off only with the teardown switch. @default true */
  readonly deletionProtection?: boolean;
}

/** User pool, hosted-UI domain and the public client of the grid's public API. */
export class GridUserPool extends Construct {
  public readonly userPool: CognitoUserPool;
  public readonly userPoolClient: CognitoUserPoolClient;
  public readonly userPoolDomain: CognitoUserPoolDomain;

  constructor(scope: Construct, id: string, props: GridUserPoolProps) {
    super(scope, id);
    const { names, account } = props;
    this.userPool = new CognitoUserPool(this, "pool", {
      name: names.name("generic", "htc_pool"),
      adminCreateUserConfig: { allowAdminCreateUserOnly: true },
      passwordPolicy: { ...USER_POOL_PASSWORD_POLICY },
      accountRecoverySetting: { recoveryMechanism: [{ name: "admin_only", priority: 1 }] },
      deletionProtection: (props.deletionProtection ?? true) ? "ACTIVE" : "INACTIVE",
    });
    this.userPoolDomain = new CognitoUserPoolDomain(this, "domain", {
      domain: cognitoDomainPrefix(names, account.accountId),
      userPoolId: this.userPool.id,
    });
    this.userPoolClient = new CognitoUserPoolClient(this, "client", {
      name: names.name("generic", "user_data_client"),
      userPoolId: this.userPool.id,
      explicitAuthFlows: [...USER_POOL_CLIENT_AUTH_FLOWS],
      generateSecret: false,
      preventUserExistenceErrors: "ENABLED",
    });
  }
}

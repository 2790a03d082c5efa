import { beforeAll, describe, expect, it } from "vitest";
import { Testing } from "cdktf";
import { CognitoUserPoolClient } from "@cdktf/provider-aws/lib/cognito-user-pool-client";
import { GridNames } from "../../modules/naming/names";
import { cognitoDomainPrefix } from "../../modules/control-plane/user-pool";
import { type Synthesized, one, ref, synthControlPlane } from "./fixtures";

describe("Cognito user pool", () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthControlPlane();
  });

  it("lets only administrators create users and recover accounts, and cannot be deleted by accident", () => {
    const pool = one(s, "aws_cognito_user_pool", "users_pool");
    expect(pool.name).toBe("htc_pool-main");
    expect(pool.admin_create_user_config).toEqual({ allow_admin_create_user_only: true });
    expect(pool.account_recovery_setting).toEqual({
      recovery_mechanism: [{ name: "admin_only", priority: 1 }],
    });
    expect(pool.deletion_protection).toBe("ACTIVE");
  });

  it("requires 12+ characters of every class and expires temporary passwords after a day", () => {
    expect(one(s, "aws_cognito_user_pool", "users_pool").password_policy).toEqual({
      minimum_length: 12,
      require_lowercase: true,
      require_uppercase: true,
      require_numbers: true,
      require_symbols: true,
      temporary_password_validity_days: 1,
    });
  });

  it("has a secretless client with SRP, refresh and admin password flows that hides user existence", () => {
    expect(
      Testing.toHaveResourceWithProperties(s.json, CognitoUserPoolClient.tfResourceType, {
        user_pool_id: ref(s, "aws_cognito_user_pool", "users_pool", "id"),
        explicit_auth_flows: [
          "ALLOW_USER_SRP_AUTH",
          "ALLOW_REFRESH_TOKEN_AUTH",
          "ALLOW_ADMIN_USER_PASSWORD_AUTH",
        ],
        generate_secret: false,
        prevent_user_existence_errors: "ENABLED",
      }),
    ).toBe(true);
  });

  it("has a deterministic domain made of the project name and the account id", () => {
    const domain = one(s, "aws_cognito_user_pool_domain", "users_domain");
    expect(domain.domain).toMatch(/^htc-main-\$\{data\.aws_caller_identity\.[^.]+\.account_id\}$/);
    expect(domain.user_pool_id).toBe(ref(s, "aws_cognito_user_pool", "users_pool", "id"));
  });
});

describe("Cognito domain prefix", () => {
  it("strips the reserved substring 'aws', even when removal would re-form it", () => {
    expect(cognitoDomainPrefix(new GridNames("myaws"), "123456789012")).toBe("htc-my-123456789012");
    expect(cognitoDomainPrefix(new GridNames("aawsws"), "123456789012")).toBe("htc-123456789012");
    expect(cognitoDomainPrefix(new GridNames("grid-aws-1"), "123456789012")).toBe("htc-grid-1-123456789012");
  });

  it("is the same on every synth (no random suffix)", () => {
    const names = new GridNames("prod");
    expect(cognitoDomainPrefix(names, "1")).toBe(cognitoDomainPrefix(names, "1"));
  });
});

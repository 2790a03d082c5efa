// Keys about deploying and tearing the grid down: the ghcr.io credential of the pull-through cache and the
// teardown switch. Kept apart from the per-area normalizers so they merge as one call.
import type { RawGridConfig } from "./schema";

/** ECR only accepts pull-through cache credentials from secrets whose name starts with this. */
export const PULL_THROUGH_SECRET_PREFIX = "ecr-pullthroughcache/";

export interface DeployKeys {
  readonly ghcrCredentialSecret: string;
  readonly allowDestroy: boolean;
}

export function normalizeDeployKeys(
  raw: Pick<RawGridConfig, "ghcr_credential_secret" | "allow_destroy">,
  issue: (path: string, message: string) => void,
): DeployKeys {
  const secret = raw.ghcr_credential_secret;
  // Secrets Manager names: letters, digits and /_+=.@-, at most 512 characters.
  if (!secret.startsWith(PULL_THROUGH_SECRET_PREFIX) || !/^[A-Za-z0-9/_+=.@-]{21,512}$/.test(secret)) {
    issue(
      "ghcr_credential_secret",
      `${JSON.stringify(secret)} is not allowed; ECR's pull-through cache only reads secrets named "${PULL_THROUGH_SECRET_PREFIX}<name>" (letters, digits and /_+=.@-)`,
    );
  }
  return { ghcrCredentialSecret: secret, allowDestroy: raw.allow_destroy };
}

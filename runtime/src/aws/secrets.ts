// The Redis AUTH token comes from Secrets Manager, read once per cold start: it is never an
// environment variable in a deployed grid (upstream put it in plain text, defect 11).

import { GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";

/**
 * The token in a secret: the SecretString itself, or its `auth_token` / `password` field when
 * the SecretString is a JSON object.
 */
export function tokenFromSecretString(secret: string): string {
  const trimmed = secret.trim();
  if (trimmed.startsWith("{")) {
    const parsed = JSON.parse(trimmed) as Record<string, unknown>;
    const token = parsed.auth_token ?? parsed.password;
    if (typeof token !== "string" || token === "")
      throw new Error("Redis AUTH secret JSON has no auth_token/password string field");
    return token;
  }
  if (trimmed === "") throw new Error("Redis AUTH secret is empty");
  return secret;
}

export async function fetchRedisAuthToken(client: SecretsManagerClient, secretArn: string): Promise<string> {
  const out = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  if (out.SecretString === undefined) throw new Error(`secret ${secretArn} has no SecretString`);
  return tokenFromSecretString(out.SecretString);
}

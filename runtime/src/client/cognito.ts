// Cognito user-pool sign-in for the public API: USER_SRP_AUTH (the password stays in this process; see srp.ts),
// then REFRESH_TOKEN_AUTH before the id token expires. Speaks Cognito's JSON API with fetch: InitiateAuth and
// RespondToAuthChallenge take no AWS credentials. The endpoint is `https://cognito-idp.<region>.amazonaws.com/`,
// or AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER (the AWS SDK's own variable) for a local emulator.

import { AuthError } from "./errors";
import {
  newEphemeral,
  passwordAuthenticationKey,
  passwordClaimSignature,
  poolNameOf,
  srpTimestamp,
  type SrpEphemeral,
} from "./srp";

type Env = Readonly<Record<string, string | undefined>>;

export interface CognitoSettings {
  readonly region: string;
  readonly userPoolId: string;
  /** App client without a secret (the grid's allows SRP and refresh). */
  readonly clientId: string;
  /** @default AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER, else the regional endpoint */
  readonly endpoint?: string;
}

export interface CognitoTokens {
  readonly idToken: string;
  /** Epoch seconds at which the id token expires (its `exp` claim). */
  readonly idTokenExpiresAt: number;
  /** Absent after a refresh that did not rotate it. */
  readonly refreshToken?: string;
}

/** A refusal by Cognito, with its error type (NotAuthorizedException, UserNotFoundException, ...). */
export class CognitoError extends AuthError {
  constructor(
    message: string,
    readonly type: string,
  ) {
    super(message);
  }
}

export function cognitoEndpoint(region: string, env: Env = process.env): string {
  return env.AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER || `https://cognito-idp.${region}.amazonaws.com/`;
}

/** The `exp` claim of a JWT (epoch seconds). */
export function tokenExpiry(jwt: string): number {
  try {
    const claims = JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8")) as {
      exp?: unknown;
    };
    if (typeof claims.exp === "number") return claims.exp;
  } catch {
    // fall through
  }
  throw new AuthError("Cognito answered an id token without an expiry; sign in again with `htc login`");
}

interface AuthResult {
  AuthenticationResult?: { IdToken?: string; RefreshToken?: string; ExpiresIn?: number };
  ChallengeName?: string;
  ChallengeParameters?: Record<string, string>;
  Session?: string;
}

export class CognitoClient {
  private readonly endpoint: string;

  constructor(
    private readonly settings: CognitoSettings,
    env: Env = process.env,
    private readonly timeoutMs = 15_000,
  ) {
    this.endpoint = settings.endpoint ?? cognitoEndpoint(settings.region, env);
  }

  private async call(target: string, body: Record<string, unknown>): Promise<AuthResult> {
    let res: Response;
    try {
      res = await fetch(this.endpoint, {
        method: "POST",
        headers: {
          "Content-Type": "application/x-amz-json-1.1",
          "X-Amz-Target": `AWSCognitoIdentityProviderService.${target}`,
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new AuthError(
        `cannot reach Cognito at ${this.endpoint} (${describeFetchError(error)}); check the network and the region`,
      );
    }
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      // non-JSON answer: reported below
    }
    if (!res.ok) {
      const type =
        String(parsed.__type ?? parsed.code ?? `HTTP ${res.status}`)
          .split("#")
          .pop() ?? "";
      // Cognito's messages name the problem ("Incorrect username or password.") and never echo a credential.
      const message = typeof parsed.message === "string" ? parsed.message : text.slice(0, 200);
      throw new CognitoError(`Cognito refused ${target}: ${type}: ${message}`, type);
    }
    return parsed as AuthResult;
  }

  /** USER_SRP_AUTH + PASSWORD_VERIFIER. Other challenges (new password, MFA) are reported, not answered. */
  async signIn(
    username: string,
    password: string,
    ephemeral: SrpEphemeral = newEphemeral(),
  ): Promise<CognitoTokens> {
    const poolName = poolNameOf(this.settings.userPoolId);
    const start = await this.call("InitiateAuth", {
      AuthFlow: "USER_SRP_AUTH",
      ClientId: this.settings.clientId,
      AuthParameters: { USERNAME: username, SRP_A: ephemeral.A.toString(16) },
    });
    if (start.ChallengeName !== "PASSWORD_VERIFIER" || !start.ChallengeParameters) {
      throw new AuthError(
        `Cognito asked for ${start.ChallengeName ?? "no challenge"} instead of PASSWORD_VERIFIER; the user pool must allow USER_SRP_AUTH`,
      );
    }
    const p = start.ChallengeParameters;
    const userId = p.USER_ID_FOR_SRP ?? username;
    const timestamp = srpTimestamp();
    const key = passwordAuthenticationKey(ephemeral, poolName, userId, password, p.SRP_B ?? "", p.SALT ?? "");
    const answer = await this.call("RespondToAuthChallenge", {
      ChallengeName: "PASSWORD_VERIFIER",
      ClientId: this.settings.clientId,
      Session: start.Session,
      ChallengeResponses: {
        USERNAME: userId,
        PASSWORD_CLAIM_SECRET_BLOCK: p.SECRET_BLOCK,
        PASSWORD_CLAIM_SIGNATURE: passwordClaimSignature(
          key,
          poolName,
          userId,
          p.SECRET_BLOCK ?? "",
          timestamp,
        ),
        TIMESTAMP: timestamp,
      },
    });
    return this.tokens(answer, "sign-in");
  }

  /** REFRESH_TOKEN_AUTH: a new id token from a refresh token. */
  async refresh(refreshToken: string): Promise<CognitoTokens> {
    const answer = await this.call("InitiateAuth", {
      AuthFlow: "REFRESH_TOKEN_AUTH",
      ClientId: this.settings.clientId,
      AuthParameters: { REFRESH_TOKEN: refreshToken },
    });
    return this.tokens(answer, "refresh");
  }

  private tokens(answer: AuthResult, what: string): CognitoTokens {
    if (answer.ChallengeName) {
      throw new AuthError(
        `Cognito ${what} needs ${answer.ChallengeName} (e.g. a first-login password change or MFA), which htc does not answer; complete it in the AWS console or CLI, then sign in again`,
      );
    }
    const idToken = answer.AuthenticationResult?.IdToken;
    if (!idToken) throw new AuthError(`Cognito ${what} answered no id token`);
    return {
      idToken,
      idTokenExpiresAt: tokenExpiry(idToken),
      refreshToken: answer.AuthenticationResult?.RefreshToken || undefined,
    };
  }
}

export function describeFetchError(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    if (error.name === "TimeoutError" || error.name === "AbortError") return "timed out";
    return cause?.code ?? cause?.message ?? error.message;
  }
  return String(error);
}

// How requests to the grid's API are authenticated: the private API takes the API key (`x-api-key`), the public
// API a Cognito id token in `Authorization` (upstream's authorizer reads that header). The Cognito authenticator
// signs in once (SRP) or starts from a stored refresh token, and refreshes the id token before it expires.

import { API_KEY_HEADER, AUTHORIZATION_HEADER } from "../contract";
import { CognitoError, type CognitoClient, type CognitoTokens } from "./cognito";
import { AuthError } from "./errors";

export interface ApiAuthenticator {
  /** Headers that authenticate the next request. */
  headers(): Promise<Record<string, string>>;
  /**
   * After the grid refused the credentials (401/403): obtain new ones if possible. True when the refused request
   * is worth one more try; such a request never reached a handler, so repeating it is safe.
   */
  renew(): Promise<boolean>;
  /** Says which credential the grid refused, for the error message (no secret in it). */
  readonly description: string;
}

export class ApiKeyAuthenticator implements ApiAuthenticator {
  readonly description = "the API key (x-api-key)";
  constructor(private readonly apiKey: string) {
    if (!apiKey) throw new AuthError("the private API needs an API key, and none was given");
  }
  async headers(): Promise<Record<string, string>> {
    return { [API_KEY_HEADER]: this.apiKey };
  }
  async renew(): Promise<boolean> {
    return false;
  }
}

/** No credentials (a local front with auth "none"). */
export class NoAuthenticator implements ApiAuthenticator {
  readonly description = "no credentials";
  async headers(): Promise<Record<string, string>> {
    return {};
  }
  async renew(): Promise<boolean> {
    return false;
  }
}

export interface CognitoCredentials {
  readonly username?: string;
  /** Used for SRP sign-in; kept in memory only, to sign in again when the refresh token stops working. */
  readonly password?: string;
  /** From an earlier sign-in (`htc login`). */
  readonly refreshToken?: string;
}

export interface CognitoAuthenticatorOptions {
  /** Refresh this many seconds before the id token expires (upstream refreshed every 200 s). @default 300 */
  readonly refreshMarginSec?: number;
  /** Called with every new token set (e.g. to store a rotated refresh token). */
  readonly onTokens?: (tokens: CognitoTokens) => void | Promise<void>;
  /** @default Date.now */
  readonly now?: () => number;
}

export class CognitoAuthenticator implements ApiAuthenticator {
  readonly description = "the Cognito id token (Authorization)";
  private tokens: CognitoTokens | undefined;
  private refreshToken: string | undefined;
  private pending: Promise<CognitoTokens> | undefined;
  /** Sign-ins and refreshes made so far (tests and diagnostics). */
  readonly counts = { signIn: 0, refresh: 0 };

  constructor(
    private readonly cognito: CognitoClient,
    private readonly credentials: CognitoCredentials,
    private readonly options: CognitoAuthenticatorOptions = {},
  ) {
    this.refreshToken = credentials.refreshToken;
    if (!credentials.refreshToken && !(credentials.username && credentials.password)) {
      throw new AuthError(
        "the public API needs a Cognito sign-in: pass credentials ({username, password} or {refreshToken}) to " +
          'GridClient, or use the private API from inside the VPC (api: "private", INTRA_VPC=1)',
      );
    }
  }

  private nowSec(): number {
    return (this.options.now ?? Date.now)() / 1000;
  }

  /** The current id token, refreshed first when it expires within the margin. */
  async idToken(): Promise<string> {
    const margin = this.options.refreshMarginSec ?? 300;
    if (this.tokens && this.tokens.idTokenExpiresAt - margin > this.nowSec()) return this.tokens.idToken;
    return (await this.renewTokens()).idToken;
  }

  async headers(): Promise<Record<string, string>> {
    return { [AUTHORIZATION_HEADER]: await this.idToken() };
  }

  async renew(): Promise<boolean> {
    await this.renewTokens(true);
    return true;
  }

  /** Sign-in or refresh, one at a time however many requests need a token at once. */
  private renewTokens(force = false): Promise<CognitoTokens> {
    if (!this.pending) {
      this.pending = this.obtain(force).finally(() => (this.pending = undefined));
    }
    return this.pending;
  }

  private async obtain(_force: boolean): Promise<CognitoTokens> {
    let tokens: CognitoTokens | undefined;
    if (this.refreshToken) {
      try {
        this.counts.refresh++;
        tokens = await this.cognito.refresh(this.refreshToken);
      } catch (error) {
        // A refresh token that expired or was revoked: sign in again if the password is at hand.
        const refused = error instanceof CognitoError && error.type === "NotAuthorizedException";
        if (!refused || !this.credentials.password) {
          throw refused
            ? new AuthError(
                "the stored Cognito session has expired or was revoked; sign in again with `htc login`",
              )
            : error;
        }
      }
    }
    if (!tokens) {
      const { username, password } = this.credentials;
      if (!username || !password) throw new AuthError("no Cognito credentials: run `htc login`");
      this.counts.signIn++;
      tokens = await this.cognito.signIn(username, password);
    }
    if (tokens.refreshToken) this.refreshToken = tokens.refreshToken;
    this.tokens = tokens;
    await this.options.onTokens?.(tokens);
    return tokens;
  }
}

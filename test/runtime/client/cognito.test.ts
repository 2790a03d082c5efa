// Cognito sign-in for the public API: the client's SRP against AWS's own implementation, then sign-in, token
// refresh and the local API front's id-token check against cognito-local (real tokens and JWKS) behind an SRP
// front (support/cognito-local.ts), and `htc login` keeping the refresh token with mode 0600.

import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// AWS's Cognito client library (devDependency), as the reference for the SRP math.
import AuthenticationHelper from "amazon-cognito-identity-js/lib/AuthenticationHelper";
import BigInteger from "amazon-cognito-identity-js/lib/BigInteger";
import { AuthError, CognitoAuthenticator, CognitoClient, GridClient } from "../../../runtime/src/client";
import { EXIT } from "../../../runtime/src/client/cli";
import { newEphemeral, passwordAuthenticationKey, SRP_N } from "../../../runtime/src/client/srp";
import { findRepoRoot } from "../../../modules/runtime-bundle/bundle";
import { newSessionId } from "../control-plane/integration/fixtures";
import { startCognitoLocal, type CognitoLocal } from "./support/cognito-local";
import { startHarness, type Harness } from "./support/harness";

const USER = "alice@example.com";
const PASSWORD = "Corr3ct-Horse-Battery!";

describe("SRP math", () => {
  it("derives the same password authentication key as AWS's amazon-cognito-identity-js", async () => {
    const poolName = "AbCdEf123";
    const ephemeral = newEphemeral();
    const B = (BigInt(`0x${"7".repeat(760)}`) % SRP_N).toString(16);
    const salt = "3f2a9c0b17e4d5";
    const ours = passwordAuthenticationKey(ephemeral, poolName, "user-id-1", PASSWORD, B, salt);
    // AWS's helper with the same secret a (and A = g^a).
    const helper = new AuthenticationHelper(poolName);
    helper.smallAValue = new BigInteger(ephemeral.a.toString(16), 16);
    helper.largeAValue = new BigInteger(ephemeral.A.toString(16), 16);
    const theirs = await new Promise<Buffer>((resolve, reject) =>
      helper.getPasswordAuthenticationKey(
        "user-id-1",
        PASSWORD,
        new BigInteger(B, 16),
        new BigInteger(salt, 16),
        (err: unknown, key: Buffer) => (err ? reject(err) : resolve(key)),
      ),
    );
    expect(Buffer.from(ours).toString("hex")).toBe(Buffer.from(theirs).toString("hex"));
  });
});

describe("Cognito sign-in against cognito-local", () => {
  let cognito: CognitoLocal;
  let h: Harness;
  let settings: { region: string; userPoolId: string; clientId: string; endpoint: string };
  let publicUrl: string;

  beforeAll(async () => {
    cognito = await startCognitoLocal();
    await cognito.createUser(USER, PASSWORD);
    settings = {
      region: "local",
      userPoolId: cognito.userPoolId,
      clientId: cognito.clientId,
      endpoint: cognito.endpoint,
    };
    h = await startHarness();
    publicUrl = (
      await h.front({ auth: { kind: "cognito", issuer: cognito.issuer, clientId: cognito.clientId } })
    ).url;
  }, 120_000);
  afterAll(async () => {
    await h?.stop();
    await cognito?.stop();
  });

  it("signs in with USER_SRP_AUTH: the password is never sent, the id token is the emulator's", async () => {
    const before = cognito.calls.length;
    const tokens = await new CognitoClient(settings).signIn(USER, PASSWORD);
    expect(cognito.calls.slice(before)).toEqual([
      "InitiateAuth/USER_SRP_AUTH",
      "RespondToAuthChallenge/PASSWORD_VERIFIER",
    ]);
    const claims = JSON.parse(Buffer.from(tokens.idToken.split(".")[1], "base64url").toString());
    expect(claims).toMatchObject({ iss: cognito.issuer, token_use: "id", aud: cognito.clientId });
    expect(tokens.idTokenExpiresAt).toBe(claims.exp);
    expect(tokens.refreshToken).toBeTruthy();
  });

  it("reports a wrong password as an auth error that does not contain it", async () => {
    const error = await new CognitoClient(settings).signIn(USER, "wrong-Passw0rd!").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as Error).message).toMatch(/NotAuthorizedException: Incorrect username or password/);
    expect((error as Error).message).not.toContain("wrong-Passw0rd!");
  });

  it("calls the public API with the id token in Authorization, which the local front verifies", async () => {
    const client = GridClient.fromConfig(
      {
        ...(await h.useMode({ storage: "REDIS", external: true })),
        public_api_gateway_url: publicUrl,
        user_pool_id: cognito.userPoolId,
        cognito_userpool_client_id: cognito.clientId,
      },
      {
        api: "public",
        credentials: { username: USER, password: PASSWORD },
        env: { ...process.env, AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER: cognito.endpoint },
      },
    );
    expect(await client.finalTasks(newSessionId())).toEqual({
      finished: [],
      failed: [],
      cancelled: [],
    });
    await client.close();
  });

  it("refreshes the id token with REFRESH_TOKEN_AUTH before it expires", async () => {
    let now = Date.now();
    const auth = new CognitoAuthenticator(
      new CognitoClient(settings),
      { username: USER, password: PASSWORD },
      { now: () => now },
    );
    const first = await auth.idToken();
    expect(auth.counts).toEqual({ signIn: 1, refresh: 0 });
    expect(await auth.idToken()).toBe(first);
    // Within the refresh margin of the token's expiry: the next request refreshes first.
    const exp = JSON.parse(Buffer.from(first.split(".")[1], "base64url").toString()).exp as number;
    now = (exp - 200) * 1000;
    const calls = cognito.calls.length;
    const second = await auth.idToken();
    expect(auth.counts).toEqual({ signIn: 1, refresh: 1 });
    expect(cognito.calls.slice(calls)).toEqual(["InitiateAuth/REFRESH_TOKEN_AUTH"]);
    expect(second.split(".").length).toBe(3);
    // Concurrent requests share one refresh.
    now = (exp + 3600) * 1000;
    await Promise.all([auth.idToken(), auth.idToken(), auth.idToken()]);
    expect(auth.counts.refresh).toBe(2);
  });

  it("starts from a stored refresh token without a password, and says to log in again when it is refused", async () => {
    const { refreshToken } = await new CognitoClient(settings).signIn(USER, PASSWORD);
    const stored = new CognitoAuthenticator(new CognitoClient(settings), { username: USER, refreshToken });
    expect((await stored.headers()).Authorization.split(".")).toHaveLength(3);
    const revoked = new CognitoAuthenticator(new CognitoClient(settings), {
      username: USER,
      refreshToken: "not-a-token",
    });
    await expect(revoked.headers()).rejects.toThrow(/sign in again with `htc login`/);
  });

  describe("local API front, public flavour", () => {
    const submitUrl = () =>
      `${publicUrl}/result?submission_content=${Buffer.from('{"session_id":"s"}').toString("base64url")}`;

    it.each([
      ["no Authorization header", undefined],
      ["a token that is not a JWT", "garbage"],
    ])("answers 401 Unauthorized for %s", async (_name, token) => {
      const res = await fetch(submitUrl(), { headers: token ? { Authorization: token } : {} });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ message: "Unauthorized" });
    });

    it("answers 401 for a token whose signature does not verify, and 200 for the genuine one", async () => {
      const { idToken } = await new CognitoClient(settings).signIn(USER, PASSWORD);
      const [head, body, sig] = idToken.split(".");
      const claims = JSON.parse(Buffer.from(body, "base64url").toString());
      const forged = `${head}.${Buffer.from(JSON.stringify({ ...claims, "cognito:username": "mallory" })).toString("base64url")}.${sig}`;
      expect((await fetch(submitUrl(), { headers: { Authorization: forged } })).status).toBe(401);
      expect((await fetch(submitUrl(), { headers: { Authorization: idToken } })).status).toBe(200);
    });
  });

  describe("htc login", () => {
    let dir: string;
    let env: Record<string, string>;
    const bin = join(findRepoRoot(__dirname), "runtime", "bin", "htc.js");
    const htc = (args: string[], input = "", extra: Record<string, string> = {}) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [bin, ...args], { cwd: dir, env: { ...env, ...extra } });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d));
        child.stderr.on("data", (d: Buffer) => (stderr += d));
        child.on("close", (code) => resolve({ code, stdout, stderr }));
        child.stdin.end(input);
      });

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "htc-login-"));
      const config = {
        ...(await h.useMode({ storage: "REDIS", external: true })),
        public_api_gateway_url: publicUrl,
        user_pool_id: cognito.userPoolId,
        cognito_userpool_client_id: cognito.clientId,
      };
      writeFileSync(join(dir, "agent_config.json"), JSON.stringify(config));
      env = {
        PATH: process.env.PATH ?? "",
        HOME: dir,
        XDG_CONFIG_HOME: join(dir, "config"),
        ...h.grid.env,
        AGENT_CONFIG_FILE: join(dir, "agent_config.json"),
        AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER: cognito.endpoint,
      };
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("signs in, keeps only the refresh token in a 0600 file, and later commands use it", async () => {
      const login = await htc(["login", "--username", USER, "--password-stdin"], `${PASSWORD}\n`);
      expect(login.code, login.stderr).toBe(EXIT.ok);
      const file = join(dir, "config", "htc", "credentials.json");
      expect(login.stderr).toContain(`refresh token kept in ${file} (mode 0600)`);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, "config", "htc")).mode & 0o777).toBe(0o700);
      const text = readFileSync(file, "utf8");
      expect(text).not.toContain(PASSWORD);
      expect(Object.values(JSON.parse(text))).toEqual([
        { username: USER, refreshToken: expect.any(String), savedAt: expect.any(String) },
      ]);
      // No password anywhere now: the stored login gets an id token for the public API.
      const session = newSessionId();
      const submitted = await htc(["submit", "--count", "2", "--session", session]);
      expect(submitted.code, submitted.stderr).toBe(EXIT.ok);
      expect(submitted.stdout).toBe(`${session}\n`);
      await htc(["cancel", session]);
      await h.grid.purge(0);
    });

    it("refuses a credentials file other users can read", async () => {
      const file = join(dir, "config", "htc", "credentials.json");
      chmodSync(file, 0o644);
      const run = await htc(["results", newSessionId()]);
      expect(run.code).toBe(EXIT.auth);
      expect(run.stderr).toMatch(
        /^htc: .*credentials\.json is readable by other users \(mode 0644\); run `chmod 600/,
      );
      chmodSync(file, 0o600);
    });

    it("logs out, after which the public API asks for a login", async () => {
      expect((await htc(["logout"])).code).toBe(EXIT.ok);
      const run = await htc(["results", newSessionId()]);
      expect(run.code).toBe(EXIT.auth);
      expect(run.stderr).toMatch(/not signed in .* run `htc login`/);
    });

    it("reports a wrong password with exit 4 and stores nothing", async () => {
      const run = await htc(["login", "--username", USER], "", { HTC_PASSWORD: "Wrong-passw0rd-123" });
      expect(run.code).toBe(EXIT.auth);
      expect(run.stderr.trim().split("\n")).toHaveLength(1);
      expect(run.stderr).not.toContain("Wrong-passw0rd-123");
      expect(existsSync(join(dir, "config", "htc", "credentials.json"))).toBe(false);
    });
  });
});

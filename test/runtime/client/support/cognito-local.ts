// cognito-local (npm, a Cognito user-pool emulator) started for real on 127.0.0.1, plus a small SRP front for it.
//
// cognito-local issues real RS256 tokens (with a JWKS), refreshes them and manages users, but it has no
// USER_SRP_AUTH (only USER_PASSWORD_AUTH). The SRP front answers InitiateAuth(USER_SRP_AUTH) and
// RespondToAuthChallenge(PASSWORD_VERIFIER) itself, as Cognito's server side of SRP: it keeps the verifier
// v = g^x of each user, checks the client's PASSWORD_CLAIM_SIGNATURE, and only then asks cognito-local for the
// user's tokens (USER_PASSWORD_AUTH); every other call is passed through. Its SRP math is written here
// independently of runtime/src/client/srp.ts (own hashing and key derivation), and srp.test.ts checks the
// client's side against AWS's own amazon-cognito-identity-js.

import { spawn, type ChildProcess } from "node:child_process";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../control-plane/integration/local-grid";

const N = BigInt(
  "0xFFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD" +
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F" +
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510" +
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7" +
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C" +
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);
const G = 2n;

function pow(base: bigint, exp: bigint, mod: bigint): bigint {
  let r = 1n;
  base %= mod;
  for (; exp > 0n; exp >>= 1n) {
    if (exp & 1n) r = (r * base) % mod;
    base = (base * base) % mod;
  }
  return r;
}
/** Two's-complement-free big-endian hex with Cognito's padding (even length, leading 00 if the top bit is set). */
function pad(n: bigint): string {
  const hex = n.toString(16);
  const even = hex.length % 2 ? `0${hex}` : hex;
  return parseInt(even[0], 16) >= 8 ? `00${even}` : even;
}
const H = (...hexParts: string[]) =>
  BigInt(
    `0x${createHash("sha256")
      .update(Buffer.from(hexParts.join(""), "hex"))
      .digest("hex")}`,
  );
const K = H(pad(N), pad(G));

export interface CognitoLocal {
  /** The SRP front (use as AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER). */
  readonly endpoint: string;
  /** cognito-local itself. */
  readonly emulator: string;
  readonly userPoolId: string;
  readonly clientId: string;
  /** Token issuer: `<emulator>/<userPoolId>`. */
  readonly issuer: string;
  createUser(username: string, password: string): Promise<void>;
  /** Calls that reached the front, by target and auth flow. */
  readonly calls: string[];
  stop(): Promise<void>;
}

async function call(endpoint: string, target: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(endpoint, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": `AWSCognitoIdentityProviderService.${target}`,
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`cognito-local ${target}: ${res.status} ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

export async function startCognitoLocal(): Promise<CognitoLocal> {
  const dir = mkdtempSync(join(tmpdir(), "htc-cognito-local-"));
  const port = await freePort();
  const bin = require.resolve("cognito-local/lib/bin/start.js");
  const child: ChildProcess = spawn(process.execPath, [bin], {
    cwd: dir,
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", NODE_NO_WARNINGS: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const emulator = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`cognito-local exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${emulator}/health`)).ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error("cognito-local did not start within 20 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  const pool = (await call(emulator, "CreateUserPool", { PoolName: "htc_pool-test" })).UserPool as {
    Id: string;
  };
  const appClient = (
    await call(emulator, "CreateUserPoolClient", {
      UserPoolId: pool.Id,
      ClientName: "htc-client",
      ExplicitAuthFlows: ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    })
  ).UserPoolClient as { ClientId: string };

  const poolName = pool.Id.split("_")[1];
  const users = new Map<string, { password: string; salt: string; v: bigint }>();
  const sessions = new Map<string, { user: string; b: bigint; B: bigint; A: bigint; secretBlock: string }>();
  const calls: string[] = [];

  const front: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const target = String(req.headers["x-amz-target"] ?? "").split(".")[1] ?? "";
        const body = JSON.parse(Buffer.concat(chunks).toString() || "{}") as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
        const reply = (status: number, value: unknown) => {
          res.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
          res.end(JSON.stringify(value));
        };
        const refuse = () =>
          reply(400, { __type: "NotAuthorizedException", message: "Incorrect username or password." });
        calls.push(
          `${target}${body.AuthFlow ? `/${body.AuthFlow}` : body.ChallengeName ? `/${body.ChallengeName}` : ""}`,
        );
        if (target === "InitiateAuth" && body.AuthFlow === "USER_SRP_AUTH") {
          const user = users.get(body.AuthParameters?.USERNAME);
          if (!user) return refuse();
          const A = BigInt(`0x${body.AuthParameters.SRP_A}`);
          const b = BigInt(`0x${randomBytes(128).toString("hex")}`) % N;
          const B = (K * user.v + pow(G, b, N)) % N;
          const session = randomBytes(16).toString("hex");
          const secretBlock = randomBytes(64).toString("base64");
          sessions.set(session, { user: body.AuthParameters.USERNAME, b, B, A, secretBlock });
          return reply(200, {
            ChallengeName: "PASSWORD_VERIFIER",
            Session: session,
            ChallengeParameters: {
              SALT: user.salt,
              SRP_B: B.toString(16),
              SECRET_BLOCK: secretBlock,
              USER_ID_FOR_SRP: body.AuthParameters.USERNAME,
              USERNAME: body.AuthParameters.USERNAME,
            },
          });
        }
        if (target === "RespondToAuthChallenge" && body.ChallengeName === "PASSWORD_VERIFIER") {
          const s = sessions.get(body.Session);
          sessions.delete(body.Session);
          const user = s && users.get(s.user);
          if (!s || !user) return refuse();
          const u = H(pad(s.A), pad(s.B));
          const S = pow(s.A * pow(user.v, u, N), s.b, N);
          const prk = createHmac("sha256", Buffer.from(pad(u), "hex"))
            .update(Buffer.from(pad(S), "hex"))
            .digest();
          const key = createHmac("sha256", prk)
            .update(Buffer.concat([Buffer.from("Caldera Derived Key"), Buffer.from([1])]))
            .digest()
            .subarray(0, 16);
          const r = body.ChallengeResponses ?? {};
          const expected = createHmac("sha256", key)
            .update(
              Buffer.concat([
                Buffer.from(poolName),
                Buffer.from(s.user),
                Buffer.from(String(r.PASSWORD_CLAIM_SECRET_BLOCK), "base64"),
                Buffer.from(String(r.TIMESTAMP)),
              ]),
            )
            .digest("base64");
          if (r.PASSWORD_CLAIM_SECRET_BLOCK !== s.secretBlock || r.PASSWORD_CLAIM_SIGNATURE !== expected)
            return refuse();
          // Proof accepted: the emulator issues the tokens.
          const tokens = await call(emulator, "InitiateAuth", {
            AuthFlow: "USER_PASSWORD_AUTH",
            ClientId: body.ClientId,
            AuthParameters: { USERNAME: s.user, PASSWORD: user.password },
          });
          return reply(200, tokens);
        }
        const upstream = await fetch(emulator, {
          method: "POST",
          headers: {
            "content-type": "application/x-amz-json-1.1",
            "x-amz-target": String(req.headers["x-amz-target"]),
          },
          body: JSON.stringify(body),
        });
        res.writeHead(upstream.status, { "content-type": "application/x-amz-json-1.1" });
        res.end(await upstream.text());
      })().catch((error: unknown) => {
        res.writeHead(500);
        res.end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", () => resolve()));
  const endpoint = `http://127.0.0.1:${(front.address() as AddressInfo).port}/`;

  return {
    endpoint,
    emulator,
    userPoolId: pool.Id,
    clientId: appClient.ClientId,
    issuer: `${emulator}/${pool.Id}`,
    calls,
    async createUser(username, password) {
      await call(emulator, "AdminCreateUser", {
        UserPoolId: pool.Id,
        Username: username,
        TemporaryPassword: password,
        MessageAction: "SUPPRESS",
      });
      await call(emulator, "AdminSetUserPassword", {
        UserPoolId: pool.Id,
        Username: username,
        Password: password,
        Permanent: true,
      });
      const salt = randomBytes(16).toString("hex");
      const inner = createHash("sha256").update(`${poolName}${username}:${password}`).digest("hex");
      const x = H(pad(BigInt(`0x${salt}`)), inner);
      users.set(username, { password, salt, v: pow(G, x, N) });
    },
    async stop() {
      front.closeAllConnections();
      await new Promise<void>((resolve) => front.close(() => resolve()));
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

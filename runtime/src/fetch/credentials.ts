// AWS credentials for the fetch step, the way the SDKs find them, with Node built-ins only: environment variables,
// else the container credentials endpoint (EKS Pod Identity: AWS_CONTAINER_CREDENTIALS_FULL_URI and the token file;
// ECS: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI). Like the SDKs, plain http is only sent to loopback or the link-local
// agents, so the token never goes anywhere else.

import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

export class CredentialsError extends Error {}

/** Hosts the SDKs accept for plain-http container credentials. */
const HTTP_HOSTS = new Set([
  "localhost",
  "127.0.0.1",
  "[::1]",
  "169.254.170.2",
  "169.254.170.23",
  "[fd00:ec2::23]",
]);

function allowedUri(uri: string): URL {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new CredentialsError(`AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL: ${uri}`);
  }
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && (HTTP_HOSTS.has(url.hostname) || /^127\./.test(url.hostname))) return url;
  throw new CredentialsError(
    `AWS_CONTAINER_CREDENTIALS_FULL_URI ${uri} is refused: plain http only to loopback or the EKS/ECS credential agents`,
  );
}

function getJson(url: URL, headers: Record<string, string>, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const request = url.protocol === "https:" ? httpsRequest : httpRequest;
    const req = request(url, { method: "GET", headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        if (res.statusCode !== 200) {
          reject(
            new CredentialsError(
              `the credentials endpoint ${url.origin} answered HTTP ${res.statusCode}: ${body.slice(0, 200)}`,
            ),
          );
          return;
        }
        try {
          resolve(JSON.parse(body));
        } catch {
          reject(new CredentialsError(`the credentials endpoint ${url.origin} sent no JSON`));
        }
      });
    });
    req.on("timeout", () =>
      req.destroy(
        new CredentialsError(`the credentials endpoint ${url.origin} did not answer within ${timeoutMs} ms`),
      ),
    );
    req.on("error", (error) =>
      reject(
        error instanceof CredentialsError
          ? error
          : new CredentialsError(`cannot reach the credentials endpoint ${url.origin}: ${error.message}`),
      ),
    );
    req.end();
  });
}

/** Resolves credentials from the environment or the container credentials endpoint. */
export async function resolveCredentials(env: Env, timeoutMs = 5_000): Promise<Credentials> {
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      sessionToken: env.AWS_SESSION_TOKEN || undefined,
    };
  }
  let url: URL | undefined;
  if (env.AWS_CONTAINER_CREDENTIALS_FULL_URI) url = allowedUri(env.AWS_CONTAINER_CREDENTIALS_FULL_URI);
  else if (env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)
    url = new URL(env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, "http://169.254.170.2");
  if (!url) {
    throw new CredentialsError(
      "no AWS credentials: neither AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY nor a container credentials endpoint (EKS Pod Identity) is set; is the pod's service account associated with a role?",
    );
  }
  const headers: Record<string, string> = {};
  let token = env.AWS_CONTAINER_AUTHORIZATION_TOKEN;
  if (env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE) {
    try {
      token = readFileSync(env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, "utf8").trim();
    } catch (error) {
      throw new CredentialsError(
        `cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE ${env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      );
    }
  }
  if (token) headers.Authorization = token;
  const doc = (await getJson(url, headers, timeoutMs)) as Record<string, unknown>;
  const accessKeyId = doc.AccessKeyId;
  const secretAccessKey = doc.SecretAccessKey;
  if (typeof accessKeyId !== "string" || typeof secretAccessKey !== "string") {
    throw new CredentialsError(`the credentials endpoint ${url.origin} sent no AccessKeyId/SecretAccessKey`);
  }
  return {
    accessKeyId,
    secretAccessKey,
    sessionToken: typeof doc.Token === "string" ? doc.Token : undefined,
  };
}

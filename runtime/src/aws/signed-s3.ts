// S3 GetObject and PutObject (SSE-KMS) over the signed-HTTP client, for the agent's inputs and outputs.

import {
  AwsServiceError,
  SignedHttpClient,
  type ServiceErrorDetail,
  type SignedResponse,
} from "./signed-http";
import { uriEncode } from "./sigv4";

/** What the S3 data plane needs: whole small objects as text. */
export interface ObjectTexts {
  /** The object's text, or undefined when there is no such key. */
  getText(bucket: string, key: string): Promise<string | undefined>;
  putText(bucket: string, key: string, text: string, sse: { readonly kmsKeyId: string }): Promise<void>;
}

export interface S3Location {
  readonly region: string;
  readonly dnsSuffix: string;
  /** Endpoint override; requests are then path-style. */
  readonly endpoint?: string;
}

/**
 * Where an object is: virtual-hosted on AWS (path-style for bucket names with dots, which break TLS), path-style on an
 * endpoint override. `url` gives the host and the query; `path` is the path as sent and signed, because URL() drops a
 * key's `.` and `..` segments, which S3 keeps as part of the key (as the SDK sends them).
 */
export interface ObjectAddress {
  readonly url: URL;
  readonly path: string;
}

export function objectAddress(
  location: S3Location,
  bucket: string,
  key: string,
  versionId?: string,
): ObjectAddress {
  const encodedKey = key.split("/").map(uriEncode).join("/");
  let origin: string;
  let path: string;
  if (location.endpoint) {
    const endpoint = new URL(location.endpoint);
    origin = endpoint.origin;
    path = `${endpoint.pathname.replace(/\/$/, "")}/${bucket}/${encodedKey}`;
  } else if (bucket.includes(".")) {
    origin = `https://s3.${location.region}.${location.dnsSuffix}`;
    path = `/${bucket}/${encodedKey}`;
  } else {
    origin = `https://${bucket}.s3.${location.region}.${location.dnsSuffix}`;
    path = `/${encodedKey}`;
  }
  const url = new URL(`${origin}${path}`);
  if (versionId) url.search = `versionId=${uriEncode(versionId)}`;
  return { url, path };
}

/** `<Error><Code>NoSuchKey</Code><Message>...</Message></Error>` */
export function s3Error(response: SignedResponse): ServiceErrorDetail {
  const body = response.body.toString("utf8");
  return {
    code: /<Code>([^<]*)<\/Code>/.exec(body)?.[1] ?? "",
    message: /<Message>([^<]*)<\/Message>/.exec(body)?.[1] ?? "",
  };
}

export class SignedS3 implements ObjectTexts {
  constructor(
    private readonly http: SignedHttpClient,
    private readonly location: S3Location,
  ) {}

  async getText(bucket: string, key: string): Promise<string | undefined> {
    const response = await this.http.send(
      { method: "GET", ...objectAddress(this.location, bucket, key), unsignedPayload: true },
      s3Error,
    );
    if (response.status === 404) {
      const detail = s3Error(response);
      if (detail.code === "NoSuchKey" || detail.code === "") return undefined;
      throw new AwsServiceError(detail.code, detail.message, 404, 1);
    }
    if (response.status !== 200) throw this.unexpected(response, `GET s3://${bucket}/${key}`);
    return response.body.toString("utf8");
  }

  async putText(
    bucket: string,
    key: string,
    text: string,
    sse: { readonly kmsKeyId: string },
  ): Promise<void> {
    const response = await this.http.send(
      {
        method: "PUT",
        ...objectAddress(this.location, bucket, key),
        headers: {
          "x-amz-server-side-encryption": "aws:kms",
          "x-amz-server-side-encryption-aws-kms-key-id": sse.kmsKeyId,
        },
        body: Buffer.from(text, "utf8"),
      },
      s3Error,
    );
    if (response.status !== 200) throw this.unexpected(response, `PUT s3://${bucket}/${key}`);
  }

  destroy(): void {
    this.http.destroy();
  }

  /** A 3xx (the bucket is in another region) or a 404 on a put (no such bucket). */
  private unexpected(response: SignedResponse, what: string): AwsServiceError {
    const detail = s3Error(response);
    const hint = response.status >= 300 && response.status < 400 ? " (is the bucket in another region?)" : "";
    return new AwsServiceError(
      detail.code || `HTTP${response.status}`,
      `${what}: HTTP ${response.status}${detail.message ? `: ${detail.message}` : ""}${hint}`,
      response.status,
      1,
    );
  }
}

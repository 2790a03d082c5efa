// The one table of stock images a default grid runs its own code on: the agent and the fetch step on Docker's
// official Node.js image, the worker on AWS's Lambda base image for its runtime (it carries the Runtime Interface
// Emulator the agent calls). Nothing is built: the code comes from the workload bucket (modules/runtime-delivery).
// Every image is pulled through the grid's ECR pull-through cache (pull-through.ts).
//
// Pods name the tag, not `tag@digest`: ECR's pull-through cache only fills a repository from a pull by tag; a first
// pull by digest (or by tag@digest, which containerd resolves by digest) finds nothing
// (https://github.com/aws/containers-roadmap/issues/2837, open). So each row pins a tag that does not move
// (a full version or AWS's dated snapshot tag) and records the digest that tag had where a public source showed one;
// `aws ecr describe-images` on the cache repository shows the digest the grid actually pulled.

import { throughCache } from "./pull-through";

export interface StockImage {
  /** Upstream repository, registry host included. */
  readonly upstream: string;
  readonly tag: string;
  /** `sha256:...` the tag pointed to, or undefined when no public source showed one (then `digestSource` says so). */
  readonly digest?: string;
  /** Where the digest was read and when, or why there is none. */
  readonly digestSource: string;
  /** What the image holds, from its published definition (Dockerfile or AWS's image documentation). */
  readonly contains: string;
}

export const STOCK_IMAGES = {
  /** Agent, fetch step (and, with the client, submission jobs). */
  node: {
    upstream: "public.ecr.aws/docker/library/node",
    tag: "22.23.2-bookworm-slim",
    digest: "sha256:48e4b67d85f87bd551df43704e24d252f56cc5f8e9718841aace50f19948f0f9",
    digestSource:
      "image index of node:22.23.2-bookworm-slim on Docker Hub, docker-library/repo-info repos/node/remote/22.23.2-bookworm-slim.md @3179cb4d (2026-09-19); Docker mirrors its official images to public.ecr.aws/docker/library, assumed byte-identical (not verified here)",
    contains:
      "Debian 12 slim, Node.js 22.23.2 + npm + yarn in /usr/local/bin, user node (uid 1000); curl, wget and gnupg are purged after install; no AWS SDK, no unzip; ENTRYPOINT docker-entrypoint.sh",
  },
  /** Worker, runtime `nodejs` (the built-in mock compute engine). */
  lambdaNodejs: {
    upstream: "public.ecr.aws/lambda/nodejs",
    tag: "22.2025.08.04.11",
    digest: undefined,
    digestSource: "no public source showed this dated tag's digest; pinned by AWS's dated snapshot tag only",
    contains:
      "AL2023, Node.js 22 in /var/lang/bin, Lambda's Node.js runtime in /var/runtime (with AWS SDK for JavaScript v3), the Runtime Interface Emulator /usr/local/bin/aws-lambda-rie, ENTRYPOINT /lambda-entrypoint.sh with the handler, no USER (root)",
  },
  /** Worker, runtime `python`. */
  lambdaPython: {
    upstream: "public.ecr.aws/lambda/python",
    tag: "3.13.2025.12.15.13",
    digest: "sha256:995c3cd4acfc0681c21cf04fe9754560e30a5d9c5b011b8c405ad1927ca4fdb6",
    digestSource:
      "pinned as python:3.13.2025.12.15.13@sha256:995c3cd4... in a public Dockerfile (found with code search; date of the pin unknown)",
    contains:
      "AL2023, Python 3.13 in /var/lang/bin, boto3 (part of the Lambda runtime as AWS documents it), Lambda's Python runtime in /var/runtime, aws-lambda-rie, ENTRYPOINT /lambda-entrypoint.sh with the handler, no USER (root)",
  },
  /** Worker, runtime `java`. */
  lambdaJava: {
    upstream: "public.ecr.aws/lambda/java",
    tag: "21.2024.11.22.15",
    digest: undefined,
    digestSource:
      "no public source showed this dated tag's digest (java:21 had linux/amd64 digest sha256:1dac9793c19eba748139fa1b9c722b36242425b61936419dea33e3d122e6e336 on 2026-07-19, hamburml/aws-base-lambda-image-corretto-version)",
    contains:
      "AL2023, Amazon Corretto 21, Lambda's Java runtime in /var/runtime, aws-lambda-rie, ENTRYPOINT /lambda-entrypoint.sh with the handler (class::method), no USER (root)",
  },
  /** Worker, runtime `provided` (a `bootstrap` executable at the zip's root, e.g. upstream's C++ engine). */
  lambdaProvided: {
    upstream: "public.ecr.aws/lambda/provided",
    tag: "al2023.2026.02.27.21",
    digest: "sha256:9ee3f032d4063febdf42a2a1f15149ce8358130753e48fcaf86eae731fab38ff",
    digestSource:
      "pinned as provided:al2023.2026.02.27.21@sha256:9ee3f032... in public Dockerfiles (found with code search; date of the pin unknown)",
    contains:
      "AL2023-minimal (microdnf, curl-minimal, glibc 2.34, no language runtime), aws-lambda-rie; the grid runs aws-lambda-rie /var/task/bootstrap, no USER (root)",
  },
} as const satisfies Record<string, StockImage>;

export type StockImageName = keyof typeof STOCK_IMAGES;

/** How a stock worker image starts the zip's code. */
export interface WorkerRuntime {
  readonly image: StockImageName;
  /** Container command; undefined keeps the image's entrypoint (`/lambda-entrypoint.sh <handler>`). */
  readonly command?: readonly string[];
  /** Handler when the config names none (undefined: the config must name one). */
  readonly defaultHandler?: string;
}

/**
 * `agent_configuration.lambda.runtime` values that select a stock worker image. Upstream's runtime names map to the
 * same rows (its `java` template pointed at a `java17` tag that was never built; here every name maps to a row that
 * exists). Other runtimes need `agent_configuration.lambda.image`.
 */
export const WORKER_RUNTIMES: Readonly<Record<string, WorkerRuntime>> = {
  nodejs: { image: "lambdaNodejs", defaultHandler: "index.handler" },
  "nodejs22.x": { image: "lambdaNodejs", defaultHandler: "index.handler" },
  python: { image: "lambdaPython" },
  "python3.13": { image: "lambdaPython" },
  java: { image: "lambdaJava" },
  java21: { image: "lambdaJava" },
  // The provided images have no language runtime: the emulator runs the zip's own `bootstrap`.
  provided: {
    image: "lambdaProvided",
    command: ["/usr/local/bin/aws-lambda-rie", "/var/task/bootstrap"],
    defaultHandler: "bootstrap.main",
  },
  "provided.al2023": {
    image: "lambdaProvided",
    command: ["/usr/local/bin/aws-lambda-rie", "/var/task/bootstrap"],
    defaultHandler: "bootstrap.main",
  },
};

/** The runtime of the built-in worker (the mock compute engine, a Node.js handler). */
export const BUILTIN_WORKER_RUNTIME = "nodejs";

/** `<registry>/<cache prefix>/<path>:<tag>`: the stock image through the grid's pull-through cache. */
export function stockImageReference(registry: string, name: StockImageName): string {
  const image = STOCK_IMAGES[name];
  return throughCache(registry, `${image.upstream}:${image.tag}`);
}

/** Markdown rendering of the table (README). */
export function stockImageTableMarkdown(): string {
  const rows = Object.entries(STOCK_IMAGES).map(
    ([name, i]) =>
      `| ${name} | \`${i.upstream}:${i.tag}\` | ${i.digest ? `\`${i.digest}\`` : "not found (see source)"} | ${i.digestSource} | ${i.contains} |`,
  );
  return [
    "| role | image (tag) | digest | digest source | contains |",
    "|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}

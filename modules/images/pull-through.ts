// The grid's ECR pull-through cache rules and how an upstream image reference is rewritten to go through them.
// Nodes in private subnets without NAT reach only ECR (through the VPC's endpoints); ECR fetches from the upstream
// registry itself on a first pull. Pure: no cdktf import, used by the images stack and by everything that names an
// image.

/** One rule: images are pulled as `<registry>/<prefix>/<path under the upstream>`. */
export interface PullThroughCache {
  /** Construct id of the rule (stable: renaming it replaces the rule). */
  readonly id: string;
  /** ECR repository prefix (2-30 characters). */
  readonly prefix: string;
  /** Upstream registry host as images name it, also ECR's `upstream_registry_url`. */
  readonly upstream: string;
  /** ECR needs a Secrets Manager credential for this upstream (even for public images). */
  readonly needsCredential: boolean;
}

export const PULL_THROUGH_CACHES = {
  /** ECR Public: AWS's Lambda base images and Docker's official images (`docker/library/...`). */
  ecrPublic: { id: "ecr-public", prefix: "ecr-public", upstream: "public.ecr.aws", needsCredential: false },
  /** cluster-autoscaler, kube-state-metrics. */
  k8s: {
    id: "registry-k8s-io",
    prefix: "registry-k8s-io",
    upstream: "registry.k8s.io",
    needsCredential: false,
  },
  /** Prometheus, its config reloader and node exporter, Grafana's sidecar (monitoring only). */
  quay: { id: "quay", prefix: "quay", upstream: "quay.io", needsCredential: false },
  /** KEDA (no anonymous-pull mirror exists) and Grafana. ECR requires a credential for ghcr.io. */
  ghcr: { id: "ghcr", prefix: "ghcr", upstream: "ghcr.io", needsCredential: true },
} as const satisfies Record<string, PullThroughCache>;

export type PullThroughCacheName = keyof typeof PULL_THROUGH_CACHES;

/** `<registry>/<prefix>` for one upstream: the registry value charts take (`image.registry`). */
export function cacheRegistry(registry: string, cache: PullThroughCacheName): string {
  return `${registry}/${PULL_THROUGH_CACHES[cache].prefix}`;
}

/**
 * Rewrites an upstream reference (`registry.k8s.io/autoscaling/cluster-autoscaler:v1.35.2`) to the same image
 * through the grid's cache (`<registry>/registry-k8s-io/autoscaling/cluster-autoscaler:v1.35.2`). Throws for a
 * registry no rule serves: an image the nodes could not pull.
 */
export function throughCache(registry: string, upstreamReference: string): string {
  const slash = upstreamReference.indexOf("/");
  const host = upstreamReference.slice(0, slash);
  const cache = Object.values(PULL_THROUGH_CACHES).find((c) => c.upstream === host);
  if (slash < 0 || !cache) {
    throw new Error(
      `image ${JSON.stringify(upstreamReference)} is not served by a pull-through cache rule (upstreams: ${Object.values(
        PULL_THROUGH_CACHES,
      )
        .map((c) => c.upstream)
        .join(", ")})`,
    );
  }
  return `${registry}/${cache.prefix}/${upstreamReference.slice(slash + 1)}`;
}

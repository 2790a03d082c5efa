// Settings every add-on release shares.
import type { ReleaseConfig } from "@cdktf/provider-helm/lib/release";

/**
 * atomic: a failed install or upgrade is rolled back (and `cleanupOnFail` removes what it created), so the cluster
 * keeps the last working add-on instead of a half-applied one. atomic implies wait: Terraform reports success only
 * once the Deployments/DaemonSets are ready, so the next stack step (the agent chart) never races an unready
 * autoscaler or KEDA webhook. Timeout 10 minutes: a fresh core node group may still be pulling images.
 */
export const RELEASE_DEFAULTS = {
  atomic: true,
  wait: true,
  cleanupOnFail: true,
  timeout: 600,
  maxHistory: 5,
} as const satisfies Partial<ReleaseConfig>;

// Helm values that send every image of an add-on chart through the grid's ECR pull-through cache.
import { cacheRegistry, throughCache, PULL_THROUGH_CACHES } from "../images/pull-through";
import type { AddonImage } from "./versions";

/** The values block for each listed image, e.g. `{ image: { registry: "<ecr>/ghcr", repository: "kedacore/keda" } }`. */
export function cachedImageValues(registry: string, images: readonly AddonImage[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const image of images) {
    const slash = image.upstream.indexOf("/");
    const host = image.upstream.slice(0, slash);
    const path = image.upstream.slice(slash + 1);
    const block =
      image.style === "repository"
        ? { repository: throughCache(registry, image.upstream) }
        : { registry: cacheRegistry(registry, cacheNameOf(host)), repository: path };
    let cursor = out;
    const keys = image.values.split(".");
    for (const key of keys.slice(0, -1)) {
      cursor[key] = (cursor[key] as Record<string, unknown> | undefined) ?? {};
      cursor = cursor[key] as Record<string, unknown>;
    }
    const last = keys[keys.length - 1];
    cursor[last] = { ...((cursor[last] as Record<string, unknown> | undefined) ?? {}), ...block };
  }
  return out;
}

function cacheNameOf(host: string): keyof typeof PULL_THROUGH_CACHES {
  const entry = Object.entries(PULL_THROUGH_CACHES).find(([, c]) => c.upstream === host);
  if (!entry) throw new Error(`no pull-through cache rule serves ${host}`);
  return entry[0] as keyof typeof PULL_THROUGH_CACHES;
}

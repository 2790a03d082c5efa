// Keys about deploying and tearing the grid down. Kept apart from the per-area normalizers so they merge as one
// call.
import type { RawGridConfig } from "./schema";

export interface DeployKeys {
  readonly allowDestroy: boolean;
}

export function normalizeDeployKeys(
  raw: Pick<RawGridConfig, "allow_destroy">,
  issue: (path: string, message: string) => void,
): DeployKeys {
  void issue;
  return { allowDestroy: raw.allow_destroy };
}

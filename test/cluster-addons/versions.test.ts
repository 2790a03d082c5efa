import { describe, expect, it } from "vitest";
import {
  ADDON_VERSIONS,
  CLUSTER_AUTOSCALER_IMAGE_TAGS,
  versionTableMarkdown,
} from "../../modules/cluster-addons/versions";
import { gridConfig } from "../compute-plane/fixture";

describe("add-on version table", () => {
  it("pins an exact chart version for every add-on", () => {
    for (const v of Object.values(ADDON_VERSIONS)) {
      expect(v.chartVersion).toMatch(/^\d+\.\d+\.\d+$/);
      expect(v.repository).toMatch(/^https:\/\//);
    }
  });

  it("has an autoscaler image for the default Kubernetes version, of the same minor", () => {
    const minor = gridConfig().computePlane.kubernetesVersion;
    expect(CLUSTER_AUTOSCALER_IMAGE_TAGS[minor]).toMatch(
      new RegExp(`^v${minor.replace(".", "\\.")}\\.\\d+$`),
    );
    expect(ADDON_VERSIONS.clusterAutoscaler.imageTag).toBe(CLUSTER_AUTOSCALER_IMAGE_TAGS[minor]);
    expect(ADDON_VERSIONS.clusterAutoscaler.kubernetesMinor).toBe(minor);
  });

  it("renders one README row per add-on", () => {
    const rows = versionTableMarkdown().split("\n");
    expect(rows).toHaveLength(2 + Object.keys(ADDON_VERSIONS).length);
    expect(rows[2]).toContain(
      "| cluster-autoscaler | https://kubernetes.github.io/autoscaler | 9.59.0 | v1.35.2 |",
    );
  });
});

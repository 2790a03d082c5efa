// The one table of in-cluster add-on versions: chart, repository, chart version, image tag, and the Kubernetes
// minor each pin was chosen for. Bump a row together with the cluster's Kubernetes version.
export interface AddonVersion {
  readonly chart: string;
  readonly repository: string;
  readonly chartVersion: string;
  /** The application image the pin runs (for information where the chart's default is kept). */
  readonly imageTag: string;
  /** Kubernetes minor(s) the pin is meant for. */
  readonly kubernetesMinor: string;
  /** Why this pin (source of the compatibility claim). */
  readonly note: string;
}

export const ADDON_VERSIONS = {
  clusterAutoscaler: {
    chart: "cluster-autoscaler",
    repository: "https://kubernetes.github.io/autoscaler",
    chartVersion: "9.59.0",
    imageTag: "v1.35.2",
    kubernetesMinor: "1.35",
    note: "chart 9.59.0 still defaults to appVersion 1.35.0; the image tag is set explicitly per minor",
  },
  keda: {
    chart: "keda",
    repository: "https://kedacore.github.io/charts",
    chartVersion: "2.20.1",
    imageTag: "2.20.1",
    kubernetesMinor: "1.33-1.35",
    note: "KEDA 2.20 is tested on Kubernetes 1.33-1.35 (keda.sh cluster compatibility matrix)",
  },
  prometheus: {
    chart: "prometheus",
    repository: "https://prometheus-community.github.io/helm-charts",
    chartVersion: "29.35.0",
    imageTag: "chart default",
    kubernetesMinor: "1.35",
    note: "only with enable_monitoring",
  },
  grafana: {
    chart: "grafana",
    repository: "https://grafana.github.io/helm-charts",
    chartVersion: "10.5.15",
    imageTag: "chart default",
    kubernetesMinor: "1.35",
    note: "only with enable_monitoring; the last release of grafana/helm-charts (Grafana 12.3.1), frozen and deprecated since the chart moved to grafana-community/helm-charts",
  },
} as const satisfies Record<string, AddonVersion>;

/**
 * cluster-autoscaler image per Kubernetes minor: the autoscaler embeds the scheduler of its own minor, so it must
 * match the cluster. Only verified tags are listed; other minors need `k8s_ca_version` (the config layer resolves
 * the tag and refuses a minor that has neither).
 */
export const CLUSTER_AUTOSCALER_IMAGE_TAGS: Readonly<Record<string, string>> = {
  "1.35": "v1.35.2",
  "1.36": "v1.36.1",
};

/** Markdown rendering of the table (README). */
export function versionTableMarkdown(): string {
  const rows = Object.values(ADDON_VERSIONS).map(
    (v) =>
      `| ${v.chart} | ${v.repository} | ${v.chartVersion} | ${v.imageTag} | ${v.kubernetesMinor} | ${v.note} |`,
  );
  return [
    "| chart | repository | chart version | image tag | Kubernetes | note |",
    "|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}

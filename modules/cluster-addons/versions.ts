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

/** One image a pinned chart renders with the grid's values, and where in the chart's values it is set. */
export interface AddonImage {
  /** Dotted path of the image block in the chart's values (`image`, `server.image`, `image.keda`). */
  readonly values: string;
  /** The upstream image (registry host and path, no tag): what the chart pulls when left alone. */
  readonly upstream: string;
  /**
   * How the chart composes the reference: `repository` holds registry and path in one value; `registry` takes the
   * registry separately (`<registry>/<repository>:<tag>`).
   */
  readonly style: "repository" | "registry";
}

/**
 * Every image each pinned chart renders with the values the grid passes, from the chart's values.yaml at that version
 * (templates rendered only for options the grid leaves off, such as Grafana's persistence init container, dashboard
 * downloader and image renderer, are not listed). Each goes through the grid's ECR pull-through cache; a chart bump
 * re-checks this list. Grafana is pulled from ghcr.io, where Grafana publishes the same releases as on Docker Hub
 * (whose pull-through rule would need a second credential).
 */
export const ADDON_IMAGES = {
  clusterAutoscaler: [
    { values: "image", upstream: "registry.k8s.io/autoscaling/cluster-autoscaler", style: "repository" },
  ],
  keda: [
    { values: "image.keda", upstream: "ghcr.io/kedacore/keda", style: "registry" },
    {
      values: "image.metricsApiServer",
      upstream: "ghcr.io/kedacore/keda-metrics-apiserver",
      style: "registry",
    },
    { values: "image.webhooks", upstream: "ghcr.io/kedacore/keda-admission-webhooks", style: "registry" },
  ],
  prometheus: [
    { values: "server.image", upstream: "quay.io/prometheus/prometheus", style: "repository" },
    {
      values: "configmapReload.prometheus.image",
      upstream: "quay.io/prometheus-operator/prometheus-config-reloader",
      style: "repository",
    },
    {
      values: "kube-state-metrics.image",
      upstream: "registry.k8s.io/kube-state-metrics/kube-state-metrics",
      style: "registry",
    },
    {
      values: "prometheus-node-exporter.image",
      upstream: "quay.io/prometheus/node-exporter",
      style: "registry",
    },
  ],
  grafana: [
    { values: "image", upstream: "ghcr.io/grafana/grafana", style: "registry" },
    { values: "sidecar.image", upstream: "quay.io/kiwigrid/k8s-sidecar", style: "registry" },
  ],
} as const satisfies Record<keyof typeof ADDON_VERSIONS, readonly AddonImage[]>;

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

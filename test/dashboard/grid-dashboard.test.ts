import { beforeAll, describe, expect, it } from "vitest";
import { Testing, TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { GridDashboard, type GridDashboardProps } from "../../modules/dashboard/grid-dashboard";
import { testApp } from "../support/test-app";

type Widget = { x: number; y: number; properties: { title: string; stat: string; metrics: unknown[][] } };

function build(overrides: Partial<GridDashboardProps> = {}) {
  const stack = new TerraformStack(testApp(), "test");
  new AwsProvider(stack, "aws", { region: "eu-west-1" });
  new GridDashboard(stack, "dashboard", {
    dashboardName: "htc-grid-main",
    region: "eu-west-1",
    clusterName: "htc-main",
    taskQueueNames: ["htc_task_queue-main__0", "htc_task_queue-main__1", "htc_task_queue-main__2"],
    lambdaFunctionNames: ["submit_task-main", "get_results-main"],
    apiNames: ["htc-public-main", "htc-private-main"],
    scalingMetric: {
      namespace: "CloudGrid/HTC/Scaling/",
      name: "pending_tasks_ddb",
      dimensionName: "cluster_name",
      dimensionValue: "htc-main",
    },
    ...overrides,
  });
  const parsed = JSON.parse(Testing.synth(stack));
  const dashboard = Object.values(parsed.resource.aws_cloudwatch_dashboard)[0] as {
    dashboard_name: string;
    dashboard_body: string;
  };
  const widgets = (JSON.parse(dashboard.dashboard_body) as { widgets: Widget[] }).widgets;
  const widget = (title: RegExp) => widgets.find((w) => title.test(w.properties.title))!;
  return { dashboard, widgets, widget };
}

describe("grid dashboard", () => {
  let r: ReturnType<typeof build>;
  beforeAll(() => {
    r = build();
  });

  it("graphs the visible backlog of every priority queue", () => {
    expect(r.widget(/waiting per priority/).properties.metrics).toEqual([
      [
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
        "htc_task_queue-main__0",
        { label: "priority 0" },
      ],
      [
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
        "htc_task_queue-main__1",
        { label: "priority 1" },
      ],
      [
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
        "htc_task_queue-main__2",
        { label: "priority 2" },
      ],
    ]);
  });

  it("graphs the scaling metric KEDA reads", () => {
    expect(r.widget(/scaling metric/).properties.metrics).toEqual([
      ["CloudGrid/HTC/Scaling/", "pending_tasks_ddb", "cluster_name", "htc-main"],
    ]);
  });

  it("graphs Lambda errors, throttles and durations per function", () => {
    for (const [title, metric] of [
      [/Lambda errors/, "Errors"],
      [/Lambda throttles/, "Throttles"],
      [/Lambda duration/, "Duration"],
    ] as const) {
      expect(r.widget(title).properties.metrics).toEqual([
        ["AWS/Lambda", metric, "FunctionName", "submit_task-main"],
        ["AWS/Lambda", metric, "FunctionName", "get_results-main"],
      ]);
    }
  });

  it("graphs API 4XX and 5XX per API", () => {
    const metrics = r.widget(/API errors/).properties.metrics.map((m) => `${m[1]}:${m[3]}`);
    expect(metrics).toEqual([
      "4XXError:htc-public-main",
      "5XXError:htc-public-main",
      "4XXError:htc-private-main",
      "5XXError:htc-private-main",
    ]);
  });

  it("graphs node and running pod counts from Container Insights", () => {
    const metrics = r.widget(/nodes and running pods/).properties.metrics.map((m) => m.slice(0, 4));
    expect(metrics).toEqual([
      ["ContainerInsights", "cluster_node_count", "ClusterName", "htc-main"],
      ["ContainerInsights", "cluster_number_of_running_pods", "ClusterName", "htc-main"],
    ]);
  });

  it("lays widgets out in two non-overlapping columns", () => {
    const cells = new Set(r.widgets.map((w) => `${w.x},${w.y}`));
    expect(cells.size).toBe(r.widgets.length);
  });

  it("leaves out widgets for parts not given", () => {
    const bare = build({ taskQueueNames: [], lambdaFunctionNames: [], apiNames: [] });
    expect(bare.widgets.map((w) => w.properties.title)).toEqual([
      "Pending tasks (scaling metric read by KEDA)",
      "Cluster: nodes and running pods",
    ]);
  });
});

// The grid's CloudWatch dashboard: backlog per priority queue, the scaling metric KEDA acts on, control-plane
// Lambda and API health, and cluster size (Container Insights).
import { Construct } from "constructs";
import { CloudwatchDashboard } from "@cdktf/provider-aws/lib/cloudwatch-dashboard";

/** Widget geometry: two columns of 12 units, rows 6 high. */
const LAYOUT = { width: 12, height: 6, columns: 2 } as const;
/** Period of every graph, seconds. */
const PERIOD_SEC = 60;

export interface GridDashboardProps {
  /** Dashboard name (from `GridNames`). */
  readonly dashboardName: string;
  readonly region: string;
  /** Literal EKS cluster name (Container Insights dimension). */
  readonly clusterName: string;
  /** Task queue names, index = priority (`htc_task_queue-<project>__<p>`). */
  readonly taskQueueNames: string[];
  /** Control-plane Lambda function names. */
  readonly lambdaFunctionNames: string[];
  /** API Gateway REST API names (public and private). */
  readonly apiNames: string[];
  /** The scaling metric (`config.controlPlane.metrics`) and the dimension value it is published with. */
  readonly scalingMetric: { namespace: string; name: string; dimensionName: string; dimensionValue: string };
}

type Metric = (string | Record<string, unknown>)[];
interface Widget {
  readonly title: string;
  readonly metrics: Metric[];
  readonly stat?: string;
}

export class GridDashboard extends Construct {
  public readonly dashboard: CloudwatchDashboard;

  constructor(scope: Construct, id: string, props: GridDashboardProps) {
    super(scope, id);
    const widgets: Widget[] = [];
    if (props.taskQueueNames.length > 0) {
      widgets.push({
        title: "Tasks waiting per priority (visible messages)",
        stat: "Maximum",
        metrics: props.taskQueueNames.map((queue, priority) => [
          "AWS/SQS",
          "ApproximateNumberOfMessagesVisible",
          "QueueName",
          queue,
          { label: `priority ${priority}` },
        ]),
      });
      widgets.push({
        title: "Tasks in flight per priority (claimed by agents)",
        stat: "Maximum",
        metrics: props.taskQueueNames.map((queue, priority) => [
          "AWS/SQS",
          "ApproximateNumberOfMessagesNotVisible",
          "QueueName",
          queue,
          { label: `priority ${priority}` },
        ]),
      });
    }
    const m = props.scalingMetric;
    widgets.push({
      title: "Pending tasks (scaling metric read by KEDA)",
      stat: "Maximum",
      metrics: [[m.namespace, m.name, m.dimensionName, m.dimensionValue]],
    });
    widgets.push({
      title: "Cluster: nodes and running pods",
      stat: "Average",
      metrics: [
        ["ContainerInsights", "cluster_node_count", "ClusterName", props.clusterName],
        [
          "ContainerInsights",
          "cluster_number_of_running_pods",
          "ClusterName",
          props.clusterName,
          { yAxis: "right" },
        ],
      ],
    });
    if (props.lambdaFunctionNames.length > 0) {
      const perFunction = (metric: string): Metric[] =>
        props.lambdaFunctionNames.map((fn) => ["AWS/Lambda", metric, "FunctionName", fn]);
      widgets.push({ title: "Lambda errors", stat: "Sum", metrics: perFunction("Errors") });
      widgets.push({ title: "Lambda throttles", stat: "Sum", metrics: perFunction("Throttles") });
      widgets.push({ title: "Lambda duration (p99)", stat: "p99", metrics: perFunction("Duration") });
    }
    if (props.apiNames.length > 0) {
      widgets.push({
        title: "API errors (4XX, 5XX)",
        stat: "Sum",
        metrics: props.apiNames.flatMap((api) => [
          ["AWS/ApiGateway", "4XXError", "ApiName", api],
          ["AWS/ApiGateway", "5XXError", "ApiName", api],
        ]),
      });
    }

    const body = {
      widgets: widgets.map((w, i) => ({
        type: "metric",
        x: (i % LAYOUT.columns) * LAYOUT.width,
        y: Math.floor(i / LAYOUT.columns) * LAYOUT.height,
        width: LAYOUT.width,
        height: LAYOUT.height,
        properties: {
          title: w.title,
          region: props.region,
          view: "timeSeries",
          stacked: false,
          period: PERIOD_SEC,
          stat: w.stat ?? "Average",
          metrics: w.metrics,
        },
      })),
    };
    this.dashboard = new CloudwatchDashboard(this, "dashboard", {
      dashboardName: props.dashboardName,
      dashboardBody: JSON.stringify(body),
    });
  }
}

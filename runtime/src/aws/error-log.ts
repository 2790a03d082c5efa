// Error reporting: every error goes to the function log and, when configured, to the grid's
// central error log group/stream (grid_errors-<tag> / lambda_errors-<tag>) shared with the agents.

import { PutLogEventsCommand, type CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";

/** Where errors go besides the process log (upstream's `error_log_group` / `error_logging_stream`). */
export interface ErrorLogTarget {
  readonly group?: string;
  readonly stream?: string;
}

/** A slow or unreachable log endpoint must not hold up the response. */
const PUT_TIMEOUT_MS = 2_000;

export class ErrorLogger {
  constructor(
    private readonly logs: CloudWatchLogsClient | undefined,
    private readonly config: ErrorLogTarget,
    private readonly source: string,
  ) {}

  async log(message: string, error?: unknown): Promise<void> {
    const detail =
      error instanceof Error ? `${error.name}: ${error.message}` : error === undefined ? "" : String(error);
    const line = `[${this.source}] ${message}${detail ? ` -- ${detail}` : ""}`;
    console.error(line);
    if (!this.logs || !this.config.group || !this.config.stream) return;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), PUT_TIMEOUT_MS);
    try {
      await this.logs.send(
        new PutLogEventsCommand({
          logGroupName: this.config.group,
          logStreamName: this.config.stream,
          logEvents: [{ timestamp: Date.now(), message: line }],
        }),
        { abortSignal: abort.signal },
      );
    } catch (putError) {
      console.error(`[${this.source}] could not write to the central error log: ${String(putError)}`);
    } finally {
      clearTimeout(timer);
    }
  }
}

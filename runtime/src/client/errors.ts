// Errors the client raises, one class per thing that can go wrong, so callers (and `htc`, which maps each to an
// exit code) can tell them apart. Messages are one line, say what was wrong and what to do, and never carry a
// credential: a password, token or API key is never put into an error, a log line or stdout.

export type GridErrorKind = "usage" | "config" | "auth" | "api" | "timeout" | "unknown-session";

export abstract class GridError extends Error {
  abstract readonly kind: GridErrorKind;
}

/** A request the caller should not have made: bad task input, an impossible option. */
export class UsageError extends GridError {
  readonly kind = "usage";
  override name = "UsageError";
}

/** The agent configuration is missing or unusable. */
export class ConfigError extends GridError {
  readonly kind = "config";
  override name = "ConfigError";
}

/** Sign-in failed, no credentials are available, or the grid refused the credentials sent. */
export class AuthError extends GridError {
  readonly kind = "auth";
  override name = "AuthError";
}

/** The grid answered an error, or could not be reached. */
export class ApiError extends GridError {
  readonly kind = "api";
  override name = "ApiError";
  constructor(
    message: string,
    /** HTTP status, or undefined when no answer arrived. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** A session the grid has no trace of. */
export class UnknownSessionError extends GridError {
  readonly kind = "unknown-session";
  override name = "UnknownSessionError";
}

/** Progress of a session: how many tasks are in each state. */
export interface SessionProgress {
  readonly sessionId: string;
  /** Tasks in the session, when known. */
  readonly total?: number;
  readonly finished: number;
  readonly failed: number;
  readonly cancelled: number;
  /** total minus the tasks in a final state, when total is known. */
  readonly pending?: number;
}

/** A wait that ran out of time; `progress` says how far the session got. */
export class GridTimeoutError extends GridError {
  readonly kind = "timeout";
  override name = "GridTimeoutError";
  constructor(
    message: string,
    readonly progress: SessionProgress,
  ) {
    super(message);
  }
}

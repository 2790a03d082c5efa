// The grid's client library: GridClient (submit, wait, results, cancel), its authentication (API key, Cognito SRP
// with refresh) and errors. Import it from another Node.js project as the package `@htc-grid/runtime` (see the
// README's "Client and `htc`" section); `htc` (cli.ts) is built on it.
export {
  GridClient,
  decodeOutput,
  type ApiFlavour,
  type GridClientOptions,
  type SessionResults,
  type Submission,
  type SubmitOptions,
  type TaskResult,
  type TaskStatus,
  type WaitOptions,
} from "./grid-client";
export {
  ApiKeyAuthenticator,
  CognitoAuthenticator,
  NoAuthenticator,
  type ApiAuthenticator,
  type CognitoAuthenticatorOptions,
  type CognitoCredentials,
} from "./auth";
export { CognitoClient, CognitoError, type CognitoSettings, type CognitoTokens } from "./cognito";
export { GENERATED_AGENT_CONFIG, loadAgentConfig, parseClientConfig, resolveAgentConfigPath } from "./config";
export {
  ApiError,
  AuthError,
  ConfigError,
  GridError,
  GridTimeoutError,
  UnknownSessionError,
  UsageError,
  type GridErrorKind,
  type SessionProgress,
} from "./errors";
export type { AgentConfigDocument, CancelResponse, SessionCancelCounts } from "../contract";

// The runtime contract: names, shapes and small pure functions shared by the infrastructure (modules/), the
// control-plane handlers, the agent, the client and the tests. Dependency-free (Node built-ins only).
export * from "./agent-config";
export * from "./api";
export * from "./data-keys";
export * from "./lambda-env";
export * from "./queues";
export * from "./state-item";
export * from "./task-state";

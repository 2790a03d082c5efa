// Ports and listening on 127.0.0.1. Kept apart from servers.ts so the agent bundle and the local DynamoDB process do
// not pull in the other emulators.

import type { Server } from "node:http";
import { createServer, type AddressInfo } from "node:net";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export const endpointOf = (port: number): string => `http://127.0.0.1:${port}`;

/** Listens on `port` (0 = any free one) on 127.0.0.1; rejects with a clear message when the port is taken. */
export function listen(server: Server, port = 0, what = "server"): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        error.code === "EADDRINUSE"
          ? new Error(`${what}: port ${port} on 127.0.0.1 is already in use; free it or choose another port`)
          : error,
      );
    };
    server.once("error", onError);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}

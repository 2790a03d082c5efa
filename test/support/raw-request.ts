// Sends bytes as they are to a server on 127.0.0.1 (a request line no HTTP client would build, such as `GET //[`)
// and resolves with what came back: the first chunk, or everything until the server closes (`Connection: close`).

import { connect } from "node:net";

export function rawRequest(endpoint: string, text: string, until: "first-chunk" | "close" = "first-chunk") {
  const { hostname, port } = new URL(endpoint);
  return new Promise<string>((resolve, reject) => {
    let received = "";
    const socket = connect(Number(port), hostname, () => socket.write(text));
    socket.on("data", (data: Buffer) => {
      received += data.toString();
      if (until === "first-chunk") {
        socket.destroy();
        resolve(received);
      }
    });
    socket.on("end", () => resolve(received));
    socket.on("error", reject);
  });
}

/** The status line of an answer `rawRequest` returned. */
export const statusLine = (answer: string): string => answer.split("\r\n")[0];

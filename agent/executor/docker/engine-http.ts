// Plain request/response calls to the Engine API over its unix socket, on one keep-alive connection
// pool per engine: a JSON body out, the status and the body back. What a status means is the
// caller's (engine-client.ts).
import http from "node:http";

/** An engine's answer: its status, its body parsed as JSON (null when empty or not JSON) and as text. */
export interface EngineAnswer {
  status: number;
  json: unknown;
  text: string;
}

export class EngineHttp {
  private readonly agent = new http.Agent({ keepAlive: true });

  constructor(readonly socketPath: string) {}

  /** Sends `method path`, with `body` as JSON; rejects only when the engine cannot be reached. */
  request(method: string, path: string, body?: unknown): Promise<EngineAnswer> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const headers: http.OutgoingHttpHeaders = payload === undefined ? {} : { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) };
      const req = http.request({ socketPath: this.socketPath, agent: this.agent, method, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.once("error", reject);
        res.once("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 0, json: parseJson(text), text });
        });
      });
      req.once("error", reject);
      req.end(payload);
    });
  }

  /** Closes the idle connections. */
  close(): void {
    this.agent.destroy();
  }
}

function parseJson(text: string): unknown {
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

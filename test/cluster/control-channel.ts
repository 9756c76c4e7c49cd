// The member side of the test processes' control channel: JSON lines on stdin (requests with a
// `rid`) and stdout (answers and events). Closing stdin asks the process to stop cleanly.
import { createInterface } from "node:readline";

export interface ChannelRequest {
  rid: number;
  op: string;
  [field: string]: unknown;
}

/** Writes one message (an answer or an event such as `{ event: "ready" }`) to stdout. */
export function send(msg: object): void {
  process.stdout.write(JSON.stringify(msg) + "\n");
}

/** Answers each request with `handle`'s result, or `{ error, code }`; runs `onClose` then exits 0 when stdin ends. */
export function serveChannel(handle: (req: ChannelRequest) => Promise<object>, onClose: () => Promise<void>): void {
  const rl = createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    const req = JSON.parse(line) as ChannelRequest;
    handle(req).then(
      (r) => send({ rid: req.rid, ...r }),
      (e: unknown) => {
        const err = e as { message?: string; code?: string };
        send({ rid: req.rid, error: err.message ?? String(e), code: err.code ?? "" });
      },
    );
  });
  rl.on("close", () => {
    void onClose().then(() => process.exit(0));
  });
}

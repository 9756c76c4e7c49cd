// Log lines on their way to PublishLogs, in bounded batches: a batch goes out when it holds
// `maxMessages` lines or `maxBytes` of data, else on the next turn of the event loop (so lines that
// arrive together travel together). Writers wait while the stream is backed up.
import type { LogMessage } from "../../proto/gen/logs.js";

export interface BatchLimits {
  /** Lines per message. Default 128. */
  maxMessages: number;
  /** Bytes of line data per message. Default 64 KiB (well under gRPC's 4 MiB). */
  maxBytes: number;
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxMessages: 128, maxBytes: 64 * 1024 };

export class LogBatcher {
  private pending: LogMessage[] = [];
  private bytes = 0;
  private scheduled = false;

  constructor(
    /** Sends one batch; resolves once the stream can take more. */
    private readonly send: (messages: LogMessage[]) => Promise<void>,
    /** A batch sent on a later turn failed (a batch sent from add() or flush() rejects those instead). */
    private readonly onError: (err: unknown) => void,
    private readonly limits: BatchLimits = DEFAULT_BATCH_LIMITS,
  ) {}

  /** Queues a line; resolves at once, or (when it fills a batch) once the batch is sent. */
  async add(m: LogMessage): Promise<void> {
    this.pending.push(m);
    this.bytes += m.data.length;
    if (this.pending.length >= this.limits.maxMessages || this.bytes >= this.limits.maxBytes) return this.flush();
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush().catch(this.onError);
      });
    }
  }

  /** Sends what is queued now. */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.bytes = 0;
    await this.send(batch);
  }
}

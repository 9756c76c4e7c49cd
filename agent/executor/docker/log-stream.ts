// The bytes of GET /containers/{id}/logs?timestamps=1 as log lines (pure). Without a TTY the engine
// multiplexes stdout and stderr in frames: an 8-byte header (stream: 1 stdout, 2 stderr; 3 zero
// bytes; payload size, uint32 big-endian) and the payload. With a TTY there are no frames: the raw
// bytes are all stdout. Either way each line starts with its RFC 3339 timestamp and a space.
import type { LogLine, LogStreamName } from "../executor.js";

const HEADER_BYTES = 8;

/** Splits one stream's bytes into timestamped lines, across chunk boundaries. */
class LineSplitter {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly stream: LogStreamName) {}

  /** The complete lines of `pending + chunk`; the rest waits for more. */
  push(chunk: Buffer, out: LogLine[]): void {
    let buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    let nl: number;
    while ((nl = buf.indexOf(0x0a)) >= 0) {
      out.push(timestamped(this.stream, buf.subarray(0, nl + 1)));
      buf = buf.subarray(nl + 1);
    }
    this.pending = Buffer.from(buf);
  }

  /** What is left without a newline (a stopped container's last words), as one line. */
  end(out: LogLine[]): void {
    if (this.pending.length > 0) out.push(timestamped(this.stream, this.pending));
    this.pending = Buffer.alloc(0);
  }
}

/** A line as the engine sent it ("TIMESTAMP data") split into its timestamp and data. */
export function timestamped(stream: LogStreamName, raw: Buffer): LogLine {
  const space = raw.indexOf(0x20);
  // Timestamps are ASCII "2006-01-02T15:04:05.999999999Z07:00": a line without one is passed whole.
  if (space < 20 || space > 40 || raw[4] !== 0x2d) return { timestamp: "", stream, data: Buffer.from(raw) };
  return { timestamp: raw.subarray(0, space).toString("latin1"), stream, data: Buffer.from(raw.subarray(space + 1)) };
}

/** A push parser of a container's log stream: multiplexed frames (no TTY) or raw bytes (TTY). */
export class LogStreamParser {
  private header: Buffer = Buffer.alloc(0);
  private frame: { stream: LogStreamName; left: number } | null = null;
  private readonly lines: Record<LogStreamName, LineSplitter> = { stdout: new LineSplitter("stdout"), stderr: new LineSplitter("stderr") };

  constructor(private readonly tty: boolean) {}

  /** The lines completed by `chunk`. */
  push(chunk: Buffer): LogLine[] {
    const out: LogLine[] = [];
    if (this.tty) {
      this.lines.stdout.push(chunk, out);
      return out;
    }
    let rest = chunk;
    while (rest.length > 0) {
      if (!this.frame) {
        const need = HEADER_BYTES - this.header.length;
        this.header = Buffer.concat([this.header, rest.subarray(0, need)]);
        rest = rest.subarray(need);
        if (this.header.length < HEADER_BYTES) break;
        this.frame = { stream: this.header[0] === 2 ? "stderr" : "stdout", left: this.header.readUInt32BE(4) };
        this.header = Buffer.alloc(0);
        continue;
      }
      const take = Math.min(this.frame.left, rest.length);
      this.lines[this.frame.stream].push(rest.subarray(0, take), out);
      rest = rest.subarray(take);
      this.frame.left -= take;
      if (this.frame.left === 0) this.frame = null;
    }
    return out;
  }

  /** The lines left without a newline when the stream ends. */
  end(): LogLine[] {
    const out: LogLine[] = [];
    this.lines.stdout.end(out);
    this.lines.stderr.end(out);
    return out;
  }
}

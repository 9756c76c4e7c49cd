// The logs endpoint's bytes as lines: frames split anywhere, TTY streams, timestamps, partial lines.
import { describe, expect, it } from "vitest";
import type { LogLine } from "../executor.js";
import { LogStreamParser, timestamped } from "./log-stream.js";

function frame(stream: 0 | 1 | 2, payload: string): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(Buffer.byteLength(payload), 4);
  return Buffer.concat([header, Buffer.from(payload)]);
}

const show = (lines: LogLine[]): string[] => lines.map((l) => `${l.timestamp}|${l.stream}|${l.data.toString()}`);

/** Feeds `body` to a parser in chunks of `size` bytes and returns every line. */
function parse(body: Buffer, tty: boolean, size: number): string[] {
  const p = new LogStreamParser(tty);
  const out: LogLine[] = [];
  for (let i = 0; i < body.length; i += size) out.push(...p.push(body.subarray(i, i + size)));
  out.push(...p.end());
  return show(out);
}

describe("LogStreamParser", () => {
  const body = Buffer.concat([
    frame(1, "2026-01-02T03:04:05.123456789Z first\n"),
    frame(2, "2026-01-02T03:04:05.2Z oops\n"),
    frame(1, "2026-01-02T03:04:06Z two\n2026-01-02T03:04:07Z lines\n"),
    frame(1, "2026-01-02T03:04:08Z no newline"),
  ]);
  const expected = [
    "2026-01-02T03:04:05.123456789Z|stdout|first\n",
    "2026-01-02T03:04:05.2Z|stderr|oops\n",
    "2026-01-02T03:04:06Z|stdout|two\n",
    "2026-01-02T03:04:07Z|stdout|lines\n",
    "2026-01-02T03:04:08Z|stdout|no newline",
  ];

  it("demultiplexes frames whatever the chunk boundaries (1 byte to all at once)", () => {
    for (const size of [1, 3, 7, 8, 9, 50, body.length]) expect(parse(body, false, size)).toEqual(expected);
  });

  it("reads a TTY container's raw bytes as stdout", () => {
    const raw = Buffer.from("2026-01-02T03:04:05Z a\r\n2026-01-02T03:04:06Z b\r\n");
    expect(parse(raw, true, 5)).toEqual(["2026-01-02T03:04:05Z|stdout|a\r\n", "2026-01-02T03:04:06Z|stdout|b\r\n"]);
  });

  it("keeps a line whole when it has no timestamp, and keeps UTF-8 split across chunks intact", () => {
    expect(show([timestamped("stdout", Buffer.from("plain line\n"))])).toEqual(["|stdout|plain line\n"]);
    expect(parse(frame(1, "2026-01-02T03:04:05Z héllo wörld\n"), false, 1)).toEqual(["2026-01-02T03:04:05Z|stdout|héllo wörld\n"]);
  });
});

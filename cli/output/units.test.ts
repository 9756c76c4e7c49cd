import { describe, expect, it } from "vitest";
import { bytesSize, cpus, formatTime, parseMemoryBytes, parseNanoCpus, timeAgo, timeFromNow } from "./units.js";

describe("units", () => {
  it.each([
    [0, "0B"],
    [512, "512B"],
    [1024, "1KiB"],
    [1536, "1.5KiB"],
    [8_349_155_328, "7.776GiB"],
    [2 ** 40, "1TiB"],
  ])("bytesSize(%d) = %s", (n, text) => {
    expect(bytesSize(n)).toBe(text);
  });

  it("prints CPUs and times like docker", () => {
    expect(cpus(2_500_000_000)).toBe("2.5");
    expect(formatTime(Date.UTC(2024, 4, 1, 12, 0, 0, 500))).toBe("2024-05-01 12:00:00.5 +0000 UTC");
    expect(formatTime(Date.UTC(2024, 4, 1, 12, 0, 0))).toBe("2024-05-01 12:00:00 +0000 UTC");
    const now = Date.UTC(2025, 0, 1);
    expect(timeAgo(now - 3 * 3_600_000, now)).toBe("3 hours ago");
    expect(timeFromNow(now + 90 * 86_400_000, now)).toBe("in 3 months");
    expect(timeFromNow(now + 3_600_000, now)).toBe("in about an hour");
  });
});

describe("reading sizes and CPUs like docker", () => {
  it.each([
    ["100", 100],
    ["512M", 512 * 1024 ** 2],
    ["1g", 1024 ** 3],
    ["1.5GiB", 1.5 * 1024 ** 3],
    ["64 kb", 64 * 1024],
    ["2T", 2 * 1024 ** 4],
    ["12X", undefined],
    ["-1M", undefined],
    ["M", undefined],
  ])("parseMemoryBytes(%j) = %s", (text, bytes) => {
    expect(parseMemoryBytes(text)).toBe(bytes);
  });

  it.each([
    ["0.5", 500_000_000],
    ["2", 2_000_000_000],
    [".25", 250_000_000],
    ["1.000000001", 1_000_000_001],
    ["1.5000000000", 1_500_000_000],
    ["0.0000000001", undefined],
    ["-1", undefined],
    ["1/2", undefined],
    [".", undefined],
  ])("parseNanoCpus(%j) = %s", (text, nano) => {
    expect(parseNanoCpus(text)).toBe(nano);
  });
});

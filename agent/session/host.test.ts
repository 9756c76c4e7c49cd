// The host description an agent registers with.
import { describe, expect, it } from "vitest";
import { describeHost, goArch, goOs } from "./host.js";

describe("describeHost", () => {
  it("reports hostname, platform in Go terms and resources", () => {
    const d = describeHost({ hostname: "h1", platform: "linux", arch: "x64", cpus: 4, memoryBytes: 8 * 2 ** 30 });
    expect(d.hostname).toBe("h1");
    expect(d.platform).toEqual({ os: "linux", architecture: "amd64" });
    expect(d.resources).toEqual({ nanoCpus: 4_000_000_000, memoryBytes: 8 * 2 ** 30, generic: [] });
    expect(d.engine).toBeUndefined();
  });

  it("maps Node.js architecture and platform names", () => {
    expect(goArch("x64")).toBe("amd64");
    expect(goArch("arm64")).toBe("arm64");
    expect(goArch("ia32")).toBe("386");
    expect(goArch("something")).toBe("something");
    expect(goOs("linux")).toBe("linux");
    expect(goOs("win32")).toBe("windows");
  });

  it("describes this host by default", () => {
    const d = describeHost();
    expect(d.hostname).not.toBe("");
    expect(d.resources!.nanoCpus).toBeGreaterThanOrEqual(1_000_000_000);
    expect(d.resources!.memoryBytes).toBeGreaterThan(0);
  });
});

// Config specs: name, value size (1 byte to 500 KiB), templating; updates change labels only.
import { describe, expect, it } from "vitest";
import { ConfigSpec } from "../../../proto/gen/specs.js";
import { checkConfigUpdate, validateConfigSpec } from "./config.js";
import { expectError } from "../test-support.js";

const base = (): ConfigSpec => ConfigSpec.fromPartial({ annotations: { name: "nginx.conf" }, data: Buffer.from("events {}") });

type Case = [what: string, mutate: (s: ConfigSpec) => void, message: string];

const BAD: Case[] = [
  ["no name", (s) => (s.annotations!.name = ""), `invalid name "": a name is required`],
  ["an empty value", (s) => (s.data = Buffer.alloc(0)), "invalid data: config data must not be empty (1 byte to 500 KiB)"],
  ["a value over 500 KiB", (s) => (s.data = Buffer.alloc(600_000)), "invalid data: config data is 600000 bytes; the limit is 512000 bytes (500 KiB)"],
  ["an unknown templating driver", (s) => (s.templating = { name: "", options: {} }), `invalid templating.name "": the templating driver must be "golang"`],
  ["a label key that is empty", (s) => (s.annotations!.labels = { "": "x" }), `invalid labels key "": label keys must not be empty or contain "="`],
];

describe("validateConfigSpec", () => {
  it("refuses a missing spec", async () => {
    await expectError(() => validateConfigSpec(undefined), "INVALID_ARGUMENT", "invalid spec: a config spec is required");
  });

  it.each(BAD)("refuses %s", async (_what, mutate, message) => {
    const s = base();
    mutate(s);
    await expectError(() => validateConfigSpec(s), "INVALID_ARGUMENT", message);
  });

  it("accepts a plain and a templated config", () => {
    expect(() => validateConfigSpec(base())).not.toThrow();
    expect(() => validateConfigSpec({ ...base(), templating: { name: "golang", options: {} } })).not.toThrow();
  });
});

describe("checkConfigUpdate", () => {
  it("allows labels and the same value, refuses another value", async () => {
    expect(() => checkConfigUpdate(base(), { ...base(), annotations: { name: "nginx.conf", labels: { a: "b" } } })).not.toThrow();
    expect(() => checkConfigUpdate(base(), { ...base(), data: Buffer.alloc(0) })).not.toThrow();
    await expectError(
      () => checkConfigUpdate(base(), { ...base(), data: Buffer.from("events { worker_connections 1; }") }),
      "INVALID_ARGUMENT",
      "invalid data: only the labels of a config can be updated; remove the config and create it again to change anything else",
    );
  });
});

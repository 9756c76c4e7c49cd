// Secret specs: name, value size (500 KiB), drivers; updates change labels only.
import { describe, expect, it } from "vitest";
import { SecretSpec } from "../../../proto/gen/specs.js";
import { checkSecretUpdate, validateSecretSpec } from "./secret.js";
import { expectError } from "../test-support.js";

const base = (): SecretSpec => SecretSpec.fromPartial({ annotations: { name: "db-password", labels: { app: "db" } }, data: Buffer.from("hunter2") });

type Case = [what: string, mutate: (s: SecretSpec) => void, message: string];

const BAD: Case[] = [
  ["no name", (s) => (s.annotations = undefined), `invalid name "": a name is required`],
  ["a name with a slash", (s) => (s.annotations!.name = "db/pw"), `invalid name "db/pw": names must start with a letter or digit and contain only letters, digits, "_", "." and "-"`],
  ["no value", (s) => (s.data = Buffer.alloc(0)), "invalid data: secret data must not be empty (1 byte to 500 KiB) unless a driver provides it"],
  ["a value over 500 KiB", (s) => (s.data = Buffer.alloc(500 * 1024 + 1)), "invalid data: secret data is 512001 bytes; the limit is 512000 bytes (500 KiB)"],
  ["an unknown templating driver", (s) => (s.templating = { name: "jinja", options: {} }), `invalid templating.name "jinja": the templating driver must be "golang"`],
  ["a driver without a name", (s) => (s.driver = { name: "", options: {} }), `invalid driver.name "": a driver name is required`],
];

describe("validateSecretSpec", () => {
  it("refuses a missing spec", async () => {
    await expectError(() => validateSecretSpec(undefined), "INVALID_ARGUMENT", "invalid spec: a secret spec is required");
  });

  it.each(BAD)("refuses %s", async (_what, mutate, message) => {
    const s = base();
    mutate(s);
    await expectError(() => validateSecretSpec(s), "INVALID_ARGUMENT", message);
  });

  it("accepts a value of exactly 500 KiB, a templated value, and a driver-provided secret", () => {
    expect(() => validateSecretSpec({ ...base(), data: Buffer.alloc(500 * 1024) })).not.toThrow();
    expect(() => validateSecretSpec({ ...base(), templating: { name: "golang", options: {} } })).not.toThrow();
    expect(() => validateSecretSpec({ ...base(), data: Buffer.alloc(0), driver: { name: "vault", options: { path: "x" } } })).not.toThrow();
  });
});

describe("checkSecretUpdate", () => {
  it("allows a change of labels, keeping the value when none is sent", () => {
    const next = SecretSpec.fromPartial({ annotations: { name: "db-password", labels: { app: "db", env: "prod" } } });
    checkSecretUpdate(base(), next);
    expect(next.data.toString()).toBe("hunter2");
  });

  it("refuses a rename, a new value and a new driver", async () => {
    await expectError(
      () => checkSecretUpdate(base(), { ...base(), annotations: { name: "pw", labels: {} } }),
      "INVALID_ARGUMENT",
      `invalid name "pw": a secret cannot be renamed (it is "db-password"); only its labels can change`,
    );
    await expectError(
      () => checkSecretUpdate(base(), { ...base(), data: Buffer.from("new") }),
      "INVALID_ARGUMENT",
      "invalid data: only the labels of a secret can be updated; remove the secret and create it again to change anything else",
    );
    await expectError(
      () => checkSecretUpdate(base(), { ...base(), templating: { name: "golang", options: {} } }),
      "INVALID_ARGUMENT",
      "invalid templating: only the labels of a secret can be updated; remove the secret and create it again to change anything else",
    );
  });
});

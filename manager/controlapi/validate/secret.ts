// Secret specs: a valid name, a value of 1 byte to 500 KiB (unless an external driver provides it),
// and known drivers. Only labels may change on update; the value never leaves the managers.
import type { SecretSpec } from "../../../proto/gen/specs.js";
import { SecretSpec as SecretSpecMsg } from "../../../proto/gen/specs.js";
import { MAX_DATA_BYTES, checkAnnotations, checkDriverName, checkOnlyLabelsChange, formatBytes, invalid } from "./common.js";

/** The templating drivers a secret or config may name. */
export const TEMPLATING_DRIVERS = ["golang"] as const;

/** Checks a templating driver (shared with configs). */
export function checkTemplating(t: { name: string } | undefined): void {
  if (t && !(TEMPLATING_DRIVERS as readonly string[]).includes(t.name)) {
    throw invalid("templating.name", t.name, `the templating driver must be ${TEMPLATING_DRIVERS.map((d) => `"${d}"`).join(", ")}`);
  }
}

/** Checks the size of a secret's or config's value. */
export function checkData(kind: "secret" | "config", data: Uint8Array, required: boolean): void {
  if (data.length > MAX_DATA_BYTES) {
    throw invalid("data", undefined, `${kind} data is ${data.length} bytes; the limit is ${MAX_DATA_BYTES} bytes (${formatBytes(MAX_DATA_BYTES)})`);
  }
  if (required && data.length === 0) {
    throw invalid("data", undefined, `${kind} data must not be empty (1 byte to ${formatBytes(MAX_DATA_BYTES)})${kind === "secret" ? " unless a driver provides it" : ""}`);
  }
}

/** Static checks of a secret spec; throws StoreError(INVALID_ARGUMENT) at the first problem. */
export function validateSecretSpec(spec: SecretSpec | undefined): asserts spec is SecretSpec {
  if (!spec) throw invalid("spec", undefined, "a secret spec is required");
  checkAnnotations(spec.annotations);
  if (spec.driver) checkDriverName("driver.name", spec.driver.name, true);
  checkData("secret", spec.data, !spec.driver);
  checkTemplating(spec.templating);
}

/**
 * Checks an update: only labels may change. `next.data` empty means unchanged (clients never see
 * the value); it is filled in from `current` here.
 */
export function checkSecretUpdate(current: SecretSpec, next: SecretSpec): void {
  if (next.data.length === 0) next.data = current.data;
  checkOnlyLabelsChange("secret", SecretSpecMsg.toJSON, current, next);
}

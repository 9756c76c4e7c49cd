// Config specs: a valid name, a value of 1 byte to 500 KiB, a known templating driver. Only labels
// may change on update.
import type { ConfigSpec } from "../../../proto/gen/specs.js";
import { ConfigSpec as ConfigSpecMsg } from "../../../proto/gen/specs.js";
import { checkAnnotations, checkOnlyLabelsChange, invalid } from "./common.js";
import { checkData, checkTemplating } from "./secret.js";

/** Static checks of a config spec; throws StoreError(INVALID_ARGUMENT) at the first problem. */
export function validateConfigSpec(spec: ConfigSpec | undefined): asserts spec is ConfigSpec {
  if (!spec) throw invalid("spec", undefined, "a config spec is required");
  checkAnnotations(spec.annotations);
  checkData("config", spec.data, true);
  checkTemplating(spec.templating);
}

/** Checks an update: only labels may change; `next.data` empty means unchanged. */
export function checkConfigUpdate(current: ConfigSpec, next: ConfigSpec): void {
  if (next.data.length === 0) next.data = current.data;
  checkOnlyLabelsChange("config", ConfigSpecMsg.toJSON, current, next);
}

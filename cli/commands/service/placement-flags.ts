// `--constraint` and `--placement-pref` values. The manager checks the attribute names; here a
// value only has to have the right shape, so a typo is caught before anything is sent:
//   --constraint node.labels.zone==east   --constraint 'node.role != manager'
//   --placement-pref spread=node.labels.zone
import { PlacementPreference } from "../../../proto/gen/types.js";
import { FlagValueError } from "../../errors.js";

const CONSTRAINT = /^\s*([^=!\s]+)\s*(==|!=)\s*(\S(?:.*\S)?)\s*$/;

/** Checks one `--constraint` value (KEY==VALUE or KEY!=VALUE) and returns it as given. */
export function checkConstraint(value: string, flag = "--constraint"): string {
  if (!CONSTRAINT.test(value)) throw new FlagValueError(flag, value, "must be KEY==VALUE or KEY!=VALUE, e.g. node.labels.zone==east");
  return value;
}

/** A constraint without its optional blanks ("node.role != manager" → "node.role!=manager"), to compare two. */
export function constraintKey(constraint: string): string {
  const m = CONSTRAINT.exec(constraint);
  return m ? `${m[1]}${m[2]}${m[3]}` : constraint;
}

/** Parses one `--placement-pref` value (spread=DESCRIPTOR). */
export function parsePlacementPref(value: string, flag = "--placement-pref"): PlacementPreference {
  const fail = (reason: string) => new FlagValueError(flag, value, reason);
  const fields = value.split("=");
  if (fields.length !== 2) throw fail(`placement preference must be of the format "<strategy>=<arg>"`);
  const [strategy, descriptor] = fields as [string, string];
  if (strategy !== "spread") throw fail(`unsupported placement preference ${strategy} (only spread is supported)`);
  if (descriptor === "") throw fail("spread needs a node attribute, e.g. spread=node.labels.zone");
  return PlacementPreference.fromPartial({ spread: { spreadDescriptor: descriptor } });
}

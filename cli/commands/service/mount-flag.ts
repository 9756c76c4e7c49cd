// `--mount` as docker reads it: comma-separated key=value fields, e.g.
//   type=bind,source=/srv/data,target=/data,readonly
//   type=volume,source=cache,target=/cache,volume-label=tier=db,volume-nocopy
//   type=tmpfs,target=/tmp,tmpfs-size=64M,tmpfs-mode=1770
// The type defaults to volume; a relative bind source ("./data") is made absolute.
import path from "node:path";
import { Mount, type BindOptions, type TmpfsOptions, type VolumeOptions } from "../../../proto/gen/types.js";
import { FlagValueError } from "../../errors.js";
import { boolFlag } from "../../flags.js";
import { parseMemoryBytes } from "../../output/units.js";
import { BIND_PROPAGATIONS, MOUNT_TYPES, wordOf } from "../../words.js";

const KEYS = [
  "type",
  "source",
  "src",
  "target",
  "dst",
  "destination",
  "readonly",
  "ro",
  "bind-propagation",
  "bind-nonrecursive",
  "bind-create-src",
  "volume-driver",
  "volume-opt",
  "volume-label",
  "volume-nocopy",
  "volume-subpath",
  "tmpfs-size",
  "tmpfs-mode",
];

/** Parses one `--mount` (`--mount-add`) value; throws FlagValueError naming the field at fault. */
export function parseMount(value: string, flag = "--mount", cwd: string = process.cwd()): Mount {
  const fail = (reason: string) => new FlagValueError(flag, value, reason);
  const mount = Mount.fromPartial({ type: MOUNT_TYPES.volume });
  let bind: BindOptions | undefined;
  let volume: VolumeOptions | undefined;
  let tmpfs: TmpfsOptions | undefined;
  const bindOptions = () => (bind ??= { propagation: 0, nonRecursive: false, createMountpoint: false, readOnlyNonRecursive: false, readOnlyForceRecursive: false });
  const volumeOptions = () => (volume ??= { noCopy: false, labels: {}, driverConfig: undefined, subpath: "" });
  const tmpfsOptions = () => (tmpfs ??= { sizeBytes: 0, mode: 0, options: "" });
  const bool = (key: string, text: string) => {
    try {
      return boolFlag(flag)(text);
    } catch {
      throw fail(`${key}=${text}: must be true or false`);
    }
  };
  for (const field of value.split(",")) {
    const eq = field.indexOf("=");
    const key = (eq === -1 ? field : field.slice(0, eq)).toLowerCase();
    const val = eq === -1 ? undefined : field.slice(eq + 1);
    if (!KEYS.includes(key)) throw fail(`unknown field "${key}": must be one of ${KEYS.join(", ")}`);
    if (val === undefined) {
      if (key === "readonly" || key === "ro") mount.readOnly = true;
      else if (key === "volume-nocopy") volumeOptions().noCopy = true;
      else if (key === "bind-nonrecursive") bindOptions().nonRecursive = true;
      else if (key === "bind-create-src") bindOptions().createMountpoint = true;
      else throw fail(`field "${key}" must be a key=value pair`);
      continue;
    }
    switch (key) {
      case "type":
        if (!Object.hasOwn(MOUNT_TYPES, val.toLowerCase())) throw fail(`type=${val}: must be one of ${Object.keys(MOUNT_TYPES).join(", ")}`);
        mount.type = MOUNT_TYPES[val.toLowerCase() as keyof typeof MOUNT_TYPES];
        break;
      case "source":
      case "src":
        mount.source = val.startsWith(".") ? path.resolve(cwd, val) : val;
        break;
      case "target":
      case "dst":
      case "destination":
        mount.target = val;
        break;
      case "readonly":
      case "ro":
        mount.readOnly = bool(key, val);
        break;
      case "bind-propagation":
        if (!Object.hasOwn(BIND_PROPAGATIONS, val.toLowerCase())) {
          throw fail(`bind-propagation=${val}: must be one of ${Object.keys(BIND_PROPAGATIONS).join(", ")}`);
        }
        bindOptions().propagation = BIND_PROPAGATIONS[val.toLowerCase() as keyof typeof BIND_PROPAGATIONS];
        break;
      case "bind-nonrecursive":
        bindOptions().nonRecursive = bool(key, val);
        break;
      case "bind-create-src":
        bindOptions().createMountpoint = bool(key, val);
        break;
      case "volume-driver":
        volumeOptions().driverConfig = { name: val, options: { ...volumeOptions().driverConfig?.options } };
        break;
      case "volume-opt":
      case "volume-label": {
        const kv = val.indexOf("=");
        if (kv <= 0) throw fail(`${key}=${val}: must be ${key}=KEY=VALUE`);
        const [k, v] = [val.slice(0, kv), val.slice(kv + 1)];
        const opts = volumeOptions();
        if (key === "volume-label") opts.labels[k] = v;
        else opts.driverConfig = { name: opts.driverConfig?.name ?? "", options: { ...opts.driverConfig?.options, [k]: v } };
        break;
      }
      case "volume-nocopy":
        volumeOptions().noCopy = bool(key, val);
        break;
      case "volume-subpath":
        volumeOptions().subpath = val;
        break;
      case "tmpfs-size": {
        const bytes = parseMemoryBytes(val);
        if (bytes === undefined) throw fail(`tmpfs-size=${val}: must be a size such as 64M or 1G`);
        tmpfsOptions().sizeBytes = bytes;
        break;
      }
      case "tmpfs-mode":
        if (!/^[0-7]{1,4}$/.test(val)) throw fail(`tmpfs-mode=${val}: must be an octal file mode such as 1777`);
        tmpfsOptions().mode = parseInt(val, 8);
        break;
    }
  }
  if (mount.target === "") throw fail("target is required");
  const type = wordOf(MOUNT_TYPES, mount.type);
  if (volume && mount.type !== MOUNT_TYPES.volume) throw fail(`cannot mix 'volume-*' options with mount type '${type}'`);
  if (bind && mount.type !== MOUNT_TYPES.bind) throw fail(`cannot mix 'bind-*' options with mount type '${type}'`);
  if (tmpfs && mount.type !== MOUNT_TYPES.tmpfs) throw fail(`cannot mix 'tmpfs-*' options with mount type '${type}'`);
  if (mount.type === MOUNT_TYPES.tmpfs && mount.source !== "") throw fail("source is not supported for tmpfs mounts");
  if (mount.type === MOUNT_TYPES.bind && mount.source === "") throw fail("source is required for bind mounts");
  mount.bindOptions = bind;
  mount.volumeOptions = volume;
  mount.tmpfsOptions = tmpfs;
  return mount;
}

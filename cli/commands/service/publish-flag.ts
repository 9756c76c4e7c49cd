// `-p/--publish` as docker reads it. Long form: comma-separated fields
//   published=8080,target=80,mode=host,protocol=udp   (target required; mode ingress, protocol tcp)
// Short form: [PUBLISHED:]TARGET[/PROTOCOL], where both sides may be equal-length ranges
//   8080:80   8080:80/udp   80   7000-7002:7000-7002
// (a missing published port is allocated by the cluster).
import { PortConfig } from "../../../proto/gen/types.js";
import { FlagValueError } from "../../errors.js";
import { PORT_PROTOCOLS, PUBLISH_MODES } from "../../words.js";

const LONG_KEYS = ["published", "target", "mode", "protocol"];
const MAX_PORT = 65535;

function choice<T>(fail: (reason: string) => Error, key: string, value: string, words: Readonly<Record<string, T>>): T {
  if (!Object.hasOwn(words, value)) throw fail(`${key}=${value}: must be one of ${Object.keys(words).join(", ")}`);
  return words[value]!;
}

function port(fail: (reason: string) => Error, what: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > MAX_PORT) throw fail(`${what} ${JSON.stringify(text)}: must be a port number 0-${MAX_PORT}`);
  return n;
}

/** "7000-7002" → [7000, 7002]; "80" → [80, 80]. */
function portRange(fail: (reason: string) => Error, what: string, text: string): [number, number] {
  const dash = text.indexOf("-");
  if (dash === -1) {
    const p = port(fail, what, text);
    return [p, p];
  }
  const [start, end] = [port(fail, what, text.slice(0, dash)), port(fail, what, text.slice(dash + 1))];
  if (end < start) throw fail(`${what} range ${text}: the end is before the start`);
  return [start, end];
}

function parseLong(value: string, fail: (reason: string) => Error): PortConfig[] {
  const config = PortConfig.fromPartial({});
  for (const field of value.split(",")) {
    const eq = field.indexOf("=");
    const key = field.slice(0, eq).toLowerCase();
    const val = field.slice(eq + 1).toLowerCase();
    if (eq <= 0) throw fail(`field "${field}" must be a key=value pair`);
    switch (key) {
      case "published":
        config.publishedPort = port(fail, "published port", val);
        break;
      case "target":
        config.targetPort = port(fail, "target port", val);
        break;
      case "mode":
        config.publishMode = choice(fail, key, val, PUBLISH_MODES);
        break;
      case "protocol":
        config.protocol = choice(fail, key, val, PORT_PROTOCOLS);
        break;
      default:
        throw fail(`unknown field "${key}": must be one of ${LONG_KEYS.join(", ")}`);
    }
  }
  if (config.targetPort === 0) throw fail("missing mandatory field 'target'");
  return [config];
}

function parseShort(value: string, fail: (reason: string) => Error): PortConfig[] {
  const slash = value.indexOf("/");
  const ports = slash === -1 ? value : value.slice(0, slash);
  const protocol = slash === -1 ? PORT_PROTOCOLS.tcp : choice(fail, "protocol", value.slice(slash + 1).toLowerCase(), PORT_PROTOCOLS);
  const parts = ports.split(":");
  if (parts.length > 2) throw fail("a host IP is not supported: use [PUBLISHED:]TARGET[/PROTOCOL]");
  const [target, published] = parts.length === 2 ? [parts[1]!, parts[0]!] : [parts[0]!, undefined];
  const [tStart, tEnd] = portRange(fail, "target port", target);
  const [pStart, pEnd] = published === undefined ? [0, 0] : portRange(fail, "published port", published);
  if (published !== undefined && pEnd - pStart !== tEnd - tStart) {
    throw fail(`the published range ${published} and the target range ${target} must have the same length`);
  }
  const configs: PortConfig[] = [];
  for (let i = 0; i <= tEnd - tStart; i++) {
    if (tStart + i === 0) throw fail("the target port must not be 0");
    configs.push(
      PortConfig.fromPartial({ protocol, targetPort: tStart + i, publishedPort: published === undefined ? 0 : pStart + i, publishMode: PUBLISH_MODES.ingress }),
    );
  }
  return configs;
}

/** Parses one `--publish` (`--publish-add`, `--publish-rm`) value into its port configs; throws FlagValueError. */
export function parsePublish(value: string, flag = "--publish"): PortConfig[] {
  const fail = (reason: string) => new FlagValueError(flag, value, reason);
  return value.includes("=") ? parseLong(value, fail) : parseShort(value, fail);
}

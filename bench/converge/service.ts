// The one service each run of bench:converge creates: replicated, a container task with an image and
// a command (sim agents ignore both; docker engines run them).
import { ServiceSpec } from "../../proto/gen/specs.js";

/** Sleeps until SIGTERM, then exits 0 at once (so stops and removals do not wait out the grace period). */
export const QUICK_STOP_COMMAND = ["sh", "-c", 'trap "exit 0" TERM; sleep 100000 & wait'];

export interface BenchService {
  name: string;
  image: string;
  command: string[];
  replicas: number;
}

export function serviceSpec(s: BenchService): ServiceSpec {
  return ServiceSpec.fromPartial({
    annotations: { name: s.name, labels: { bench: "converge" } },
    task: { runtime: { $case: "container", container: { image: s.image, command: s.command } } },
    mode: { $case: "replicated", replicated: { replicas: s.replicas } },
  });
}

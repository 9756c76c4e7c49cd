// `swarm node …`: list, inspect, update, promote, demote and remove nodes (Control API). A node
// argument is an id, a unique id prefix, a name, or `self` (this node, from Daemon.Info).
import type { Command } from "commander";
import type { ListNodesRequest_Filters } from "../../proto/gen/control.js";
import { Node } from "../../proto/gen/objects.js";
import { NodeSpec } from "../../proto/gen/specs.js";
import { Annotations, NodeRole, type NodeAvailability } from "../../proto/gen/types.js";
import type { Swarmd } from "../client.js";
import type { CommandContext } from "../context.js";
import { CliError, CliErrors, FlagValueError } from "../errors.js";
import { choiceFlag, keyValueListFlag, listFlag, splitKeyValue } from "../flags.js";
import { renderInspect, renderList } from "../output/format.js";
import { AVAILABILITIES, MEMBERSHIPS, ROLES } from "../words.js";
import { NODE_LIST, nodeRow, nodeView, prettyNode, sortNodes } from "./node-views.js";

const FILTER_KEYS = ["id", "label", "membership", "name", "role"] as const;

/** `--filter key=value` flags as ListNodes filters (docker's keys; `name` matches a prefix). */
export function nodeFilters(filters: readonly string[]): ListNodesRequest_Filters {
  const f: ListNodesRequest_Filters = { idPrefixes: [], names: [], namePrefixes: [], labels: [], roles: [], memberships: [] };
  for (const text of filters) {
    const [key, value] = splitKeyValue(text);
    if (!text.includes("=")) throw new FlagValueError("--filter", text, "must be key=value");
    switch (key) {
      case "id":
        f.idPrefixes.push(value);
        break;
      case "name":
        f.namePrefixes.push(value);
        break;
      case "label":
      case "node.label":
        f.labels.push(value);
        break;
      case "role":
        f.roles.push(choiceFlag("--filter", ROLES)(value));
        break;
      case "membership":
        f.memberships.push(choiceFlag("--filter", MEMBERSHIPS)(value));
        break;
      default:
        throw new FlagValueError("--filter", text, `unknown filter "${key}": must be one of ${FILTER_KEYS.join(", ")}`);
    }
  }
  return f;
}

/** Resolves `self` to this node's id (asking swarmd once); other references pass through. */
function refResolver(s: Swarmd): (ref: string) => Promise<string> {
  let self: Promise<string> | undefined;
  return async (ref) => {
    if (ref !== "self") return ref;
    self ??= s.daemon.info({}).then((i) => i.nodeId);
    const id = await self;
    if (!id) throw new CliError("this node is not part of a swarm: `self` does not name a node");
    return id;
  };
}

async function getNode(s: Swarmd, resolve: (ref: string) => Promise<string>, ref: string): Promise<Node> {
  const { node } = await s.control.getNode({ nodeId: await resolve(ref) });
  if (!node) throw new CliError(`swarmd returned no node for ${ref}`);
  return node;
}

/** The updated spec: `change` edits a copy; UpdateNode carries the version read. */
async function updateNode(s: Swarmd, node: Node, change: (spec: NodeSpec) => void): Promise<void> {
  const spec = NodeSpec.fromPartial(node.spec ?? {});
  change(spec);
  await s.control.updateNode({ nodeId: node.id, nodeVersion: node.meta?.version, spec });
}

/** Runs `fn` for every argument, continuing after failures; fails with every message at the end. */
async function forEachRef(refs: readonly string[], fn: (ref: string) => Promise<void>): Promise<void> {
  const errors: string[] = [];
  for (const ref of refs) {
    try {
      await fn(ref);
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      errors.push(e.message);
    }
  }
  if (errors.length > 0) throw new CliErrors(errors);
}

interface UpdateFlags {
  availability?: NodeAvailability;
  labelAdd?: string[];
  labelRm?: string[];
  role?: NodeRole;
}

/** Adds `node` and its subcommands. */
export function registerNodeCommands(program: Command, ctx: CommandContext): void {
  const node = program.command("node").description("Manage swarm nodes");

  node
    .command("ls")
    .alias("list")
    .description("List nodes in the swarm")
    .option("-q, --quiet", "Only display IDs")
    .option("-f, --filter <filter>", "Filter output based on conditions provided (id, label, membership, name, role)", listFlag())
    .option("--format <format>", "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
    .action(async (flags: { quiet?: boolean; filter?: string[]; format?: string }) => {
      const filters = nodeFilters(flags.filter ?? []);
      const s = await ctx.connect();
      const [{ nodes }, info] = await Promise.all([s.control.listNodes({ filters }), s.daemon.info({})]);
      const sorted = sortNodes(nodes);
      if (flags.quiet) return ctx.out(sorted.map((n) => `${n.id}\n`).join(""));
      ctx.out(
        renderList(
          flags.format ?? "",
          sorted.map((n) => nodeRow(n, info.nodeId)),
          NODE_LIST,
        ),
      );
    });

  node
    .command("inspect")
    .description("Display detailed information on one or more nodes")
    .argument("<node...>", "node id, name or `self`")
    .option("-f, --format <format>", "Format output using a custom template: 'json' or a Go template")
    .option("--pretty", "Print the information in a human friendly format")
    .action(async (refs: string[], flags: { format?: string; pretty?: boolean }) => {
      if (flags.pretty && flags.format) throw new CliError("--format is incompatible with human friendly format");
      const s = await ctx.connect();
      const resolve = refResolver(s);
      const found: Node[] = [];
      try {
        await forEachRef(refs, async (ref) => {
          found.push(await getNode(s, resolve, ref));
        });
      } finally {
        if (flags.pretty) ctx.out(found.map(prettyNode).join("\n"));
        else
          ctx.out(
            renderInspect(
              flags.format ?? "",
              found.map((n) => Node.toJSON(n)),
              found.map(nodeView),
            ),
          );
      }
    });

  node
    .command("update")
    .description("Update a node")
    .argument("<node>", "node id, name or `self`")
    .option("--availability <state>", 'Availability of the node ("active", "pause", "drain")', choiceFlag("--availability", AVAILABILITIES))
    .option("--label-add <key=value>", "Add or update a node label (key=value)", keyValueListFlag("--label-add"))
    .option("--label-rm <key>", "Remove a node label if exists", listFlag())
    .option("--role <role>", 'Role of the node ("worker", "manager")', choiceFlag("--role", ROLES))
    .action(async (ref: string, flags: UpdateFlags) => {
      const s = await ctx.connect();
      const n = await getNode(s, refResolver(s), ref);
      await updateNode(s, n, (spec) => {
        if (flags.availability !== undefined) spec.availability = flags.availability;
        if (flags.role !== undefined) spec.desiredRole = flags.role;
        if (flags.labelAdd || flags.labelRm) {
          const labels = { ...spec.annotations?.labels };
          for (const kv of flags.labelAdd ?? []) {
            const [k, v] = splitKeyValue(kv);
            labels[k] = v;
          }
          for (const k of flags.labelRm ?? []) {
            if (!Object.hasOwn(labels, k)) throw new CliError(`key ${k} doesn't exist in node's labels`);
            delete labels[k];
          }
          spec.annotations = Annotations.fromPartial({ ...spec.annotations, labels });
        }
      });
      ctx.line(ref);
    });

  const changeRole = async (refs: string[], role: NodeRole): Promise<void> => {
    const s = await ctx.connect();
    const resolve = refResolver(s);
    const manager = role === NodeRole.NODE_ROLE_MANAGER;
    for (const ref of refs) {
      const n = await getNode(s, resolve, ref);
      if ((n.spec?.desiredRole ?? NodeRole.NODE_ROLE_WORKER) === role) {
        ctx.line(`Node ${n.id} is already a ${manager ? "manager" : "worker"}.`);
        continue;
      }
      await updateNode(s, n, (spec) => {
        spec.desiredRole = role;
      });
      ctx.line(manager ? `Node ${ref} promoted to a manager in the swarm.` : `Manager ${ref} demoted in the swarm.`);
    }
  };

  node
    .command("promote")
    .description("Promote one or more nodes to manager in the swarm")
    .argument("<node...>", "node id, name or `self`")
    .action((refs: string[]) => changeRole(refs, NodeRole.NODE_ROLE_MANAGER));

  node
    .command("demote")
    .description("Demote one or more nodes from manager in the swarm")
    .argument("<node...>", "node id, name or `self`")
    .action((refs: string[]) => changeRole(refs, NodeRole.NODE_ROLE_WORKER));

  node
    .command("rm")
    .alias("remove")
    .description("Remove one or more nodes from the swarm")
    .argument("<node...>", "node id, name or `self`")
    .option("-f, --force", "Force remove a node from the swarm")
    .action(async (refs: string[], flags: { force?: boolean }) => {
      const s = await ctx.connect();
      const resolve = refResolver(s);
      await forEachRef(refs, async (ref) => {
        await s.control.removeNode({ nodeId: await resolve(ref), force: flags.force ?? false });
        ctx.line(ref);
      });
    });
}

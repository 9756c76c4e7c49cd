#!/usr/bin/env node
// `swarm`: the command line of the cluster, talking to the local swarmd (see cli/README.md).
import { run } from "./program.js";

process.exitCode = await run(process.argv.slice(2));

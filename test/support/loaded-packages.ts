import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * A module a Node process preloads (`--require`) to say which npm packages it has loaded by the time the gateway
 * is ready: when the "gateway ready" line is written to stderr, it first writes `{"loadedPackages":[...]}`, the
 * packages under node_modules found in `require.cache`, in the order they were first loaded (the cache keeps its
 * entries in insertion order, and a module enters it before its own requires run). The workspace's own packages
 * resolve to their real folders (services/…), so they are not listed. A process of its own: the test runner keeps
 * its modules in a registry of its own, where `require.cache` does not see them.
 */
const PRELOAD_SOURCE = `"use strict";
const write = process.stderr.write.bind(process.stderr);
let reported = false;
function loadedPackages() {
  const packages = [];
  for (const file of Object.keys(require.cache)) {
    const parts = file.split(/[\\\\/]/);
    const at = parts.lastIndexOf("node_modules");
    if (at < 0) continue;
    const name = parts[at + 1].startsWith("@") ? parts[at + 1] + "/" + parts[at + 2] : parts[at + 1];
    if (!packages.includes(name)) packages.push(name);
  }
  return packages;
}
process.stderr.write = function (chunk, ...rest) {
  if (!reported && String(chunk).includes('"message":"gateway ready"')) {
    reported = true;
    write(JSON.stringify({ loadedPackages: loadedPackages() }) + "\\n");
  }
  return write(chunk, ...rest);
};
`;

/**
 * NODE_OPTIONS that make a gateway process list its loaded packages before its ready line (see PRELOAD_SOURCE); the
 * preload is written into `dir`, which the caller removes.
 */
export function listLoadedPackagesOptions(dir: string): string {
  const preload = path.join(dir, "list-loaded-packages.js");
  if (!existsSync(preload)) writeFileSync(preload, PRELOAD_SOURCE);
  return `--require ${preload}`;
}

/** The packages listed in a gateway's log (written before its ready line); throws if the log has no list. */
export function loadedPackagesIn(log: string): string[] {
  const line = log.split("\n").find((entry) => entry.startsWith('{"loadedPackages":'));
  if (line === undefined) throw new Error(`the gateway listed no loaded packages (was it started with listLoadedPackagesOptions()?):\n${log}`);
  return (JSON.parse(line) as { loadedPackages: string[] }).loadedPackages;
}

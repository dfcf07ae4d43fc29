// Package boundaries, checked on the sources: a file imports another package only by its name, never by a
// relative path into it; a package imports only what its package.json declares; and a published package never
// reaches into another's `internal/*` subpath (that is for this repository's tests and benchmarks).
import { readFileSync, readdirSync, statSync, existsSync } from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const skipped = new Set(["node_modules", "dist", ".git", "data", "gen"]);
const builtins = new Set(["node:"]);

function sourceFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (skipped.has(name) || name.startsWith("dist-")) return [];
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return /\.(ts|mts|cts|mjs|js)$/.test(name) && !name.endsWith(".d.ts") ? [full] : [];
  });
}

/** The folder of the nearest package.json: the package a file belongs to. */
function packageRoot(file) {
  let dir = path.dirname(file);
  while (!existsSync(path.join(dir, "package.json"))) dir = path.dirname(dir);
  return dir;
}

const manifests = new Map();
function manifest(dir) {
  if (!manifests.has(dir)) manifests.set(dir, JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")));
  return manifests.get(dir);
}

function specifiers(source) {
  const found = [];
  for (const match of source.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)(["'])([^"']+)\1/gm)) found.push(match[2]);
  return found;
}

const problems = [];
for (const file of sourceFiles(root)) {
  const own = packageRoot(file);
  const ownManifest = manifest(own);
  const published = own !== root && ownManifest.private !== true;
  const declared = new Set([
    ownManifest.name,
    ...Object.keys(ownManifest.dependencies ?? {}),
    ...Object.keys(ownManifest.peerDependencies ?? {}),
    ...(published ? [] : Object.keys(ownManifest.devDependencies ?? {})),
  ]);
  const where = path.relative(root, file);
  for (const spec of specifiers(readFileSync(file, "utf8"))) {
    if (spec.startsWith(".")) {
      const target = path.resolve(path.dirname(file), spec);
      const targetPackage = packageRoot(existsSync(target) && statSync(target).isDirectory() ? path.join(target, "index.ts") : target);
      if (targetPackage !== own) problems.push(`${where}: "${spec}" reaches into ${path.relative(root, targetPackage)}: import it by its package name`);
      continue;
    }
    if ([...builtins].some((prefix) => spec.startsWith(prefix))) continue;
    const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];
    if (own !== root && !declared.has(name)) problems.push(`${where}: imports ${name}, which ${path.relative(root, own)}/package.json does not declare`);
    if (published && name !== ownManifest.name && /^@recq-mesh\/[^/]+\/internal\//.test(spec)) {
      problems.push(`${where}: "${spec}" is another package's internals: use what its index exports`);
    }
  }
}

if (problems.length > 0) {
  for (const problem of problems) console.error(problem);
  console.error(`package boundaries: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log("package boundaries: ok");

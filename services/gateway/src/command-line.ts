import { readFileSync } from "node:fs";
import path from "node:path";

/** What `recq-gateway --help` prints: the flags; every environment variable is in docs/configuration.md. */
export const USAGE = `Usage: recq-gateway [--address host:port] [--descriptors file-or-folder]... [--data-dir dir]

Serves the command and query services of the descriptor sets over gRPC and routes each call to a linked handler.

  --address host:port        where to listen (RECQ_ADDRESS; default 127.0.0.1:50051)
  --descriptors path         a FileDescriptorSet (buf build --as-file-descriptor-set), or a folder of *.binpb;
                             repeat it or separate paths with commas (RECQ_DESCRIPTORS; default dist/descriptors.binpb)
  --data-dir dir             the embedded store's folder (RECQ_DATA_DIR; default ./data/gateway; unused with MONGODB_URI)
  --help                     prints this
  --version                  prints the gateway's version

Limits, tokens, MongoDB and telemetry are set by environment variables: see docs/configuration.md.
`;

/** The answer to `--help` or `--version`, when asked for one; undefined for a run. */
export function informationRequested(argv: readonly string[]): string | undefined {
  if (argv.includes("--help") || argv.includes("-h")) return USAGE;
  if (argv.includes("--version")) return `${packageVersion()}\n`;
  return undefined;
}

function packageVersion(): string {
  // dist/src/command-line.js → the package's own package.json.
  const manifest = JSON.parse(readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")) as { version: string };
  return manifest.version;
}

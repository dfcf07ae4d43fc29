import { execFile, spawnSync } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { REPO } from "./repository";
import type { RequiredTool } from "./required-tool";

export const run = promisify(execFile);

/** The strict reflection client: discovers services by reflection alone, as grpcurl does. */
export const PYTHON_CLIENT = path.join(REPO, "test", "python", "reflection_client.py");

const INSTALL_HINT =
  "run `apt-get install -y python3-grpcio python3-protobuf` (Debian), or set RECQ_PYTHON to a python3 that has grpcio and protobuf";

/** The first python3 that can import grpc and protobuf (Debian's packages live in /usr/bin/python3's path), if any. */
export const PYTHON_WITH_GRPC: string | undefined = [...new Set([process.env.RECQ_PYTHON, "python3", "/usr/bin/python3"].filter((name): name is string => !!name))].find(
  (candidate) => spawnSync(candidate, ["-c", "import grpc, google.protobuf"], { timeout: 30_000 }).status === 0,
);

/** What the strict-client tests need. */
export const PYTHON_TOOL: RequiredTool = { tool: "a python3 with grpcio and protobuf", install: INSTALL_HINT, available: PYTHON_WITH_GRPC !== undefined };

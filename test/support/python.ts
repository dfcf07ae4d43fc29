import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";

export const run = promisify(execFile);

/** The strict reflection client: discovers services by reflection alone, as grpcurl does. */
export const PYTHON_CLIENT = path.resolve(__dirname, "../../../test/python/reflection_client.py");

const INSTALL_HINT =
  "run `apt-get install -y python3-grpcio python3-protobuf` (Debian), or set RECQ_PYTHON to a python3 that has grpcio and protobuf";

/** The first python3 that can import grpc and protobuf; Debian's packages live in /usr/bin/python3's path. */
export async function findPythonWithGrpc(): Promise<string> {
  const candidates = [...new Set([process.env.RECQ_PYTHON, "python3", "/usr/bin/python3"].filter((name): name is string => !!name))];
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      await run(candidate, ["-c", "import grpc, google.protobuf"], { timeout: 30_000 });
      return candidate;
    } catch (error: unknown) {
      failures.push(`${candidate}: ${error instanceof Error ? error.message.split("\n").filter(Boolean).at(-1) : String(error)}`);
    }
  }
  assert.fail(`No python3 with grpcio and protobuf (${failures.join("; ")}): ${INSTALL_HINT}`);
}

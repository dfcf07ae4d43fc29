import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { RequiredTool } from "./required-tool";

/** grpcurl on the PATH, or where `go install` puts it; undefined where it is not installed. */
export const GRPCURL_PATH: string | undefined = (() => {
  const gopath = process.env.GOPATH ?? path.join(os.homedir(), "go");
  const dirs = [...(process.env.PATH ?? "").split(path.delimiter), path.join(gopath, "bin")];
  return dirs.map((dir) => path.join(dir, "grpcurl")).find((candidate) => existsSync(candidate));
})();

export const GRPCURL: RequiredTool = {
  tool: "grpcurl",
  install: "go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3",
  available: GRPCURL_PATH !== undefined,
};

export const DOCKER_COMPOSE: RequiredTool = {
  tool: "docker-compose",
  install: "apt-get install -y docker-compose",
  available: spawnSync("docker-compose", ["version"], { timeout: 30_000 }).status === 0,
};

export const GO: RequiredTool = {
  tool: "go",
  install: "https://go.dev/doc/install, or apt-get install -y golang",
  available: spawnSync("go", ["version"], { timeout: 30_000 }).status === 0,
};

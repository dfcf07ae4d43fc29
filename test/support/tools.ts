import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { RequiredTool } from "./required-tool";

/**
 * grpcurl on the PATH, or where `go install` puts it ($GOPATH/bin, ~/go/bin, or `go env GOPATH`/bin, asked only
 * when the others have none); undefined where it is not installed.
 */
export const GRPCURL_PATH: string | undefined = (() => {
  const inBin = (dirs: (string | undefined)[]) => dirs.filter((dir): dir is string => Boolean(dir)).map((dir) => path.join(dir, "grpcurl")).find((candidate) => existsSync(candidate));
  const gopath = process.env.GOPATH ?? path.join(os.homedir(), "go");
  return (
    inBin([...(process.env.PATH ?? "").split(path.delimiter), path.join(gopath, "bin")]) ??
    inBin([spawnSync("go", ["env", "GOPATH"], { encoding: "utf8", timeout: 10_000 }).stdout?.trim()].map((dir) => dir && path.join(dir, "bin")))
  );
})();

/** The environment to run documented grpcurl commands with: grpcurl's folder first on the PATH. */
export function grpcurlEnv(): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${path.dirname(GRPCURL_PATH!)}${path.delimiter}${process.env.PATH ?? ""}` };
}

export const GRPCURL: RequiredTool = {
  tool: "grpcurl",
  install: "go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3",
  available: GRPCURL_PATH !== undefined,
};

/** Whether `command args` runs, asked once and only by a test file that needs to know (docker-compose takes ~0.8 s). */
function runs(command: string, args: string[]): () => boolean {
  let answer: boolean | undefined;
  return () => (answer ??= spawnSync(command, args, { timeout: 30_000 }).status === 0);
}

const dockerComposeRuns = runs("docker-compose", ["version"]);
export const DOCKER_COMPOSE: RequiredTool = {
  tool: "docker-compose",
  install: "apt-get install -y docker-compose",
  get available() {
    return dockerComposeRuns();
  },
};

const goRuns = runs("go", ["version"]);
export const GO: RequiredTool = {
  tool: "go",
  install: "https://go.dev/doc/install, or apt-get install -y golang",
  get available() {
    return goRuns();
  },
};

/** Debian's Chromium, driven headless by playwright-core (the web page's test). */
export const CHROMIUM_PATH = "/usr/bin/chromium";
export const CHROMIUM: RequiredTool = {
  tool: "chromium",
  install: "apt-get install -y chromium",
  available: existsSync(CHROMIUM_PATH),
};

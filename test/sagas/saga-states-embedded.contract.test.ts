import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { EmbeddedEventStore } from "@recq-mesh/gateway";
import { runSagaStatesContract } from "./saga-states.suite";

runSagaStatesContract("embedded", async () => {
  const directory = await mkdtemp(path.join(tmpdir(), "recq-saga-states-"));
  let current = await EmbeddedEventStore.open({ directory });
  return {
    store: current,
    reopen: async () => {
      await current.close();
      return (current = await EmbeddedEventStore.open({ directory }));
    },
    cleanup: async () => {
      await current.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
});

// The saga side of `npm run bench:saga`: the TodoList aggregate and the item-transfer saga in one process, as
// `npm start` runs them, linked to the gateway given in argv; the saga's checkpoint in the folder given, or, with
// "memory" for a folder, in memory (what the fsync'd checkpoint file costs a step); the third argument, if any, is
// the saga's checkpoint coalescing interval in ms (0: a durable write per event; default the kit's).
import { FileCheckpointStore, MeshService, type CheckpointStore } from "@recq-mesh/kit";
import { itemTransferSaga, todoListAggregate } from "@recq-mesh/todo";

async function main(): Promise<void> {
  const [address, checkpointFolder, intervalMs] = process.argv.slice(2);
  const mesh = new MeshService({ address: address!, component: "bench-sagas" });
  const checkpoints = checkpointFolder === "memory" ? memoryCheckpoints() : await FileCheckpointStore.open(checkpointFolder!);
  const checkpointCoalescing = intervalMs === undefined ? {} : { intervalMs: Number(intervalMs) };
  mesh.addAggregate(todoListAggregate).addSaga(itemTransferSaga(checkpoints), { checkpointCoalescing });
  await mesh.start();
  process.stdout.write("ready\n");
  process.once("SIGTERM", () => void mesh.drain().then(() => process.exit(0)));
}

function memoryCheckpoints(): CheckpointStore {
  const positions = new Map<string, number>();
  return {
    read: async (consumer) => positions.get(consumer) ?? 0,
    write: async (consumer, position) => void positions.set(consumer, Math.max(position, positions.get(consumer) ?? 0)),
  };
}

main().catch((error: unknown) => {
  process.stderr.write(`saga service failed: ${String(error)}\n`);
  process.exit(1);
});

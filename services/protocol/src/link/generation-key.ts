/**
 * The name of a thing of one generation of a projection's views: a view collection, a checkpoint, a consumer stream.
 * Generation 1 (the first, and every projection that was never rebuilt) keeps the plain name, so rebuilding needs no
 * migration of what exists; generation N > 1 gets `~gN` appended (`todoLists~g2`, `todo-lists~g2`).
 *
 * The gateway keys a consumer stream by it (the dead-event queue parks events under it: a rebuild's failures are
 * apart from the current generation's), and the kit names a generation's collections and checkpoints with it.
 */
export function generationKey(name: string, generation: number): string {
  return generation <= 1 ? name : `${name}~g${generation}`;
}

/** The name a `generationKey` was made from: `todo-lists~g2` → `todo-lists`. */
export function consumerNameOf(key: string): string {
  return key.replace(/~g\d+$/, "");
}

/**
 * An append whose command id already has an outcome recorded within the retention window: the same command ran
 * at the same time through another gateway (one gateway never runs a command id twice at once). Nothing of this
 * append was stored. It is not an `AppendRejectedError`: a retry with the same command id is right, and gets the
 * outcome recorded first.
 */
export class DuplicateCommandError extends Error {
  override readonly name = "DuplicateCommandError";

  constructor(readonly commandId: string) {
    super(`command "${commandId}" already has a recorded outcome (it ran at the same time elsewhere): nothing was stored; a retry with the same command id returns the first outcome`);
  }
}

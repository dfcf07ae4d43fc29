/**
 * A descriptor set the gateway refuses to serve. Every problem found is listed, so that one failed start
 * tells the author of the contracts everything there is to fix.
 */
export class InvalidDescriptorSetError extends Error {
  override readonly name = "InvalidDescriptorSetError";

  constructor(
    readonly problems: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`The descriptor set cannot be served by the gateway:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`, options);
  }
}

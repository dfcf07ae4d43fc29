/**
 * The loop of a stream that reads the store from a position, then follows its appends: `wake()` runs `step`, one run
 * at a time; a wake while it runs makes it run once more afterwards (an append may have come after the step's
 * read), never twice at once. It stops once `stopped()` says so; what a step throws goes to `fail`.
 */
export class SerialPump {
  private running = false;
  private again = false;

  constructor(
    private readonly step: () => Promise<void>,
    private readonly stopped: () => boolean,
    private readonly fail: (thrown: unknown) => void,
  ) {}

  wake(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      do {
        this.again = false;
        await this.step();
      } while (this.again && !this.stopped());
    } catch (thrown) {
      this.fail(thrown);
    } finally {
      this.running = false;
    }
  }
}

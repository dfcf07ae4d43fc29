/**
 * A delay that `wake()` can cut short: how a change-stream watcher waits between retries and still closes at
 * once. The timer is unref'd, so a waiting watcher never keeps a process alive.
 */
export class WakeableDelay {
  private wakeUp: (() => void) | undefined;

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.wakeUp = done;
    });
  }

  wake(): void {
    this.wakeUp?.();
  }
}

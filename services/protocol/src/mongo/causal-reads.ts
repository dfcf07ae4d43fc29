import type { ClientSession, MongoClient, Timestamp } from "mongodb";

/**
 * Read-your-writes across sessions. MongoDB guarantees it only inside one causally consistent session with
 * majority reads and writes; a store serving many callers at once cannot share one session, so it remembers the
 * latest operation time it has seen (of its writes and its reads) and starts each read in a causally consistent
 * session advanced to it: the server then answers from a snapshot that includes that write, on any member, even
 * after a failover. The database handle must default to majority read and write concern.
 */
export class CausalReads {
  private latest: Timestamp | undefined;

  constructor(private readonly client: MongoClient) {}

  /** Remembers the operation time of a session's last operation (for example a committed transaction). */
  observe(session: ClientSession): void {
    const time = session.operationTime;
    if (time !== undefined && (this.latest === undefined || isAfter(time, this.latest))) this.latest = time;
  }

  /** Runs `work` in a causally consistent session that starts after everything observed so far. */
  async run<T>(work: (session: ClientSession) => Promise<T>): Promise<T> {
    const session = this.client.startSession({ causalConsistency: true });
    if (this.latest !== undefined) session.advanceOperationTime(this.latest);
    try {
      const result = await work(session);
      this.observe(session);
      return result;
    } finally {
      await session.endSession();
    }
  }
}

function isAfter(a: Timestamp, b: Timestamp): boolean {
  return a.t > b.t || (a.t === b.t && a.i > b.i);
}

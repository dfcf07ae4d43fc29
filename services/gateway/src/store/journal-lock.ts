import { open, readFile, unlink } from "node:fs/promises";
import * as path from "node:path";

/** Lock files this process holds, by absolute path: a second open in the same process is refused too. */
const heldInThisProcess = new Set<string>();

/**
 * One writer per journal directory. Two stores appending to one journal would interleave records and corrupt it,
 * so `open` takes a lock file holding its process id. A lock left by a process that no longer runs (a crash,
 * kill -9) is taken over; so is one carrying this process's own id that this process does not hold (a restart
 * in a container, where the gateway gets the same pid every time).
 */
export class JournalLock {
  private released = false;

  private constructor(private readonly lockPath: string) {}

  /** `fileName` names the lock of another journal in the same directory (the accepted-command inbox has its own). */
  static async acquire(directory: string, fileName = "journal.lock"): Promise<JournalLock> {
    const lockPath = path.resolve(directory, fileName);
    if (heldInThisProcess.has(lockPath)) {
      throw new Error(`the event journal in ${directory} is already open in this process; close that store first`);
    }
    if (!(await tryCreate(lockPath))) {
      await takeOverStale(lockPath, directory);
      if (!(await tryCreate(lockPath))) {
        throw new Error(`the event journal in ${directory} was locked by another process while this one opened it`);
      }
    }
    heldInThisProcess.add(lockPath);
    return new JournalLock(lockPath);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    heldInThisProcess.delete(this.lockPath);
    await unlink(this.lockPath).catch(() => undefined);
  }
}

async function tryCreate(lockPath: string): Promise<boolean> {
  try {
    const handle = await open(lockPath, "wx");
    try {
      await handle.writeFile(`${process.pid}\n`);
    } finally {
      await handle.close();
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

async function takeOverStale(lockPath: string, directory: string): Promise<void> {
  const owner = Number.parseInt(await readFile(lockPath, "utf8").catch(() => ""), 10);
  if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isRunning(owner)) {
    throw new Error(`the event journal in ${directory} is in use by process ${owner}; if that is not a RECQ store, delete ${lockPath}`);
  }
  await unlink(lockPath).catch(() => undefined);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { syncFolder } from "../files/sync-folder";
import type { ViewStore } from "../views/view-store";

/**
 * Where a consumer that keeps no views of its own (an observer, a saga) keeps its checkpoint: the position through
 * which it has handled the event stream, so that a restart resumes after it instead of from the beginning.
 */
export interface CheckpointStore {
  /** The position through which `consumer` has handled events (0 if never). */
  read(consumer: string): Promise<number>;
  /** Durably moves `consumer`'s checkpoint to `position`; a position at or below the current one changes nothing. */
  write(consumer: string, position: number): Promise<void>;
}

/**
 * Checkpoints in a folder, one small file per consumer, each write durable (a temporary file, fsync'd, renamed over
 * the old one, the folder fsync'd) — for a process with a disk of its own, as the embedded stores are.
 */
export class FileCheckpointStore implements CheckpointStore {
  private readonly written = new Map<string, number>();

  private constructor(private readonly folder: string) {}

  static async open(folder: string): Promise<FileCheckpointStore> {
    await mkdir(folder, { recursive: true });
    return new FileCheckpointStore(folder);
  }

  async read(consumer: string): Promise<number> {
    try {
      const text = await readFile(this.fileOf(consumer), "utf8");
      const position = Number(text.trim());
      if (!Number.isSafeInteger(position) || position < 0) throw new Error(`the checkpoint file of ${consumer} holds ${JSON.stringify(text)}, not a position`);
      this.written.set(consumer, position);
      return position;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
      throw error;
    }
  }

  async write(consumer: string, position: number): Promise<void> {
    if (position <= (this.written.get(consumer) ?? 0)) return;
    const target = this.fileOf(consumer);
    const temporary = `${target}.tmp`;
    const file = await open(temporary, "w");
    try {
      await file.writeFile(`${position}\n`);
      await file.sync();
    } catch (error) {
      await file.close();
      await rm(temporary, { force: true });
      throw error;
    }
    await file.close();
    await rename(temporary, target);
    await syncFolder(this.folder);
    this.written.set(consumer, position);
  }

  /** Consumer names may hold any character: the file name is their URI encoding. */
  private fileOf(consumer: string): string {
    return path.join(this.folder, `${encodeURIComponent(consumer)}.checkpoint`);
  }
}

/** Checkpoints kept in a view store (MongoDB in production) next to the projections' own. */
export class ViewStoreCheckpoints implements CheckpointStore {
  constructor(private readonly store: ViewStore) {}

  read(consumer: string): Promise<number> {
    return this.store.checkpoint(consumer);
  }

  write(consumer: string, position: number): Promise<void> {
    return this.store.commit(consumer, position, []);
  }
}

import { open } from "node:fs/promises";

/** Makes a rename or a new file in `folder` durable: the folder's entry list is fsync'd. */
export async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

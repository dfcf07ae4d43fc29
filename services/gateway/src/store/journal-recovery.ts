import * as path from "node:path";
import type { EmbeddedStoreSettings } from "./embedded-store-options";
import { EventIndex } from "./event-index";
import { openJournalFile, type OpenedJournalFile } from "./journal-file";
import { replayJournal, type TornTail } from "./journal-replay";
import { OutcomeRegistry, commandIdOf } from "./outcome-registry";

export const JOURNAL_FILE_NAME = "events.journal";

/** What opening found in the journal. */
export interface JournalRecovery {
  /** Complete records replayed. */
  records: number;
  /** The incomplete end a crash left, cut off on open; undefined when the journal ended cleanly. */
  tornTail: TornTail | undefined;
}

/** The journal, open and replayed: its indexes rebuilt, positioned to append. */
export interface RecoveredJournal {
  file: OpenedJournalFile;
  /** Where the next record goes. */
  journalLength: number;
  index: EventIndex;
  outcomes: OutcomeRegistry;
  recovery: JournalRecovery;
}

/**
 * Opens the journal in the settings' directory and replays it into fresh indexes. A torn tail is cut off (and the
 * cut synced) before anything is appended, with a warning to the logger; corruption throws and closes the file.
 */
export async function recoverJournal(settings: EmbeddedStoreSettings): Promise<RecoveredJournal> {
  const filePath = path.join(settings.directory, JOURNAL_FILE_NAME);
  const file = await openJournalFile(filePath);
  try {
    const index = new EventIndex();
    const outcomes = new OutcomeRegistry(settings.outcomeRetentionMs);
    const openedAt = Date.now();
    const source = { filePath, handle: file.handle, size: file.size, maxTornTailBytes: settings.maxWriteBytes };
    const replay = await replayJournal(source, (record, location) => {
      if (record.kind === "commit") index.apply(record, location);
      outcomes.record(commandIdOf(record), location, record.timeMs, openedAt);
    });
    if (replay.tornTail !== undefined) await cutTornTail(file, filePath, replay.tornTail, settings);
    const recovery = { records: replay.records, tornTail: replay.tornTail };
    return { file, journalLength: replay.endOffset, index, outcomes, recovery };
  } catch (error) {
    await file.handle.close();
    throw error;
  }
}

async function cutTornTail(file: OpenedJournalFile, filePath: string, tornTail: TornTail, settings: EmbeddedStoreSettings): Promise<void> {
  await file.handle.truncate(tornTail.offset);
  await file.handle.datasync();
  settings.logger?.warn("the event journal ended in a torn write, as a crash mid-write leaves it; the incomplete end was cut off", {
    journal: filePath,
    offset: tornTail.offset,
    bytes: tornTail.bytes,
    reason: tornTail.reason,
  });
}

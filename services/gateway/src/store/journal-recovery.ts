import * as path from "node:path";
import type { EmbeddedStoreSettings } from "./embedded-store-options";
import { EventIndex } from "./event-index";
import type { RecordLocation } from "./event-locations";
import { loadCheckpoint } from "./index-checkpoint";
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
  /** Bytes of the journal an index checkpoint covered (not replayed); 0 without a valid checkpoint. */
  checkpointBytes: number;
}

/** The journal, open and replayed: its indexes rebuilt, positioned to append. */
export interface RecoveredJournal {
  file: OpenedJournalFile;
  /** Where the next record goes. */
  journalLength: number;
  index: EventIndex;
  outcomes: OutcomeRegistry;
  recovery: JournalRecovery;
  /** The journal's last complete record; undefined when it has none. */
  lastRecord: RecordLocation | undefined;
}

/**
 * Opens the journal in the settings' directory and replays it into fresh indexes, or, when a valid index
 * checkpoint covers a prefix of it, loads that and replays only what follows. A checkpoint that is stale or damaged
 * is ignored with a warning. A torn tail is cut off (and the cut synced) before anything is appended, with a
 * warning to the logger; corruption throws and closes the file.
 */
export async function recoverJournal(settings: EmbeddedStoreSettings): Promise<RecoveredJournal> {
  const filePath = path.join(settings.directory, JOURNAL_FILE_NAME);
  const file = await openJournalFile(filePath);
  try {
    const openedAt = Date.now();
    const checkpoint = await loadCheckpoint(settings.directory, file, settings.outcomeRetentionMs, openedAt);
    if (checkpoint.kind === "ignored") {
      settings.logger?.warn("the index checkpoint was ignored; the whole journal is replayed", { journal: filePath, reason: checkpoint.reason });
    }
    const loaded = checkpoint.kind === "loaded" ? checkpoint.state : undefined;
    const index = loaded?.index ?? new EventIndex();
    const outcomes = loaded?.outcomes ?? new OutcomeRegistry(settings.outcomeRetentionMs);
    const start = loaded && { offset: loaded.journalLength, records: loaded.records, lastRecord: loaded.lastRecord };
    const source = { filePath, handle: file.handle, size: file.size, maxTornTailBytes: settings.maxWriteBytes, start };
    const replay = await replayJournal(source, (record, location) => {
      if (record.kind === "commit") index.apply(record, location);
      outcomes.record(commandIdOf(record), location, record.timeMs, openedAt);
    });
    if (replay.tornTail !== undefined) await cutTornTail(file, filePath, replay.tornTail, settings);
    const recovery = { records: replay.records, tornTail: replay.tornTail, checkpointBytes: loaded?.journalLength ?? 0 };
    return { file, journalLength: replay.endOffset, index, outcomes, recovery, lastRecord: replay.lastRecord };
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

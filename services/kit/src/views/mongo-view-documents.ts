/** The documents of the MongoDB view store. */

/**
 * Where the MongoDB view store keeps each consumer's checkpoint: `{ _id: consumer, position }` in this collection,
 * beside the views, so that a commit's view writes and its checkpoint share one transaction. No view may use
 * the name.
 */
export const CHECKPOINTS_COLLECTION = "recq_checkpoints";

export interface CheckpointDocument {
  _id: string;
  position: number;
}

/** A view's document as the driver types it: a string `_id` and any fields. */
export interface ViewRecord {
  _id: string;
  [field: string]: unknown;
}

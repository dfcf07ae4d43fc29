import assert from "node:assert/strict";
import { it } from "@jest/globals";
import { timeOrderedId } from "@recq-mesh/kit";

it("makes UUIDv7s, unique and sorted in the order they were made, also many within one millisecond", () => {
  const ids = Array.from({ length: 10_000 }, () => timeOrderedId());
  for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids);
  // The first 48 bits are the time of creation, in ms.
  const millis = parseInt(ids[0]!.replace(/-/g, "").slice(0, 12), 16);
  assert.ok(Math.abs(millis - Date.now()) < 60_000, `a timestamp of now, not ${millis}`);
});

import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { readDescriptorSets } from "@recq-mesh/gateway";
import { tempDir } from "../support/mesh-harness";

describe("the gateway's descriptor set files", () => {
  let temp: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    temp = await tempDir("descriptor-files");
  });
  afterAll(() => temp.remove());

  it("reads a file as it is, and a folder as its *.binpb files in name order", async () => {
    const folder = path.join(temp.dir, "sets");
    await mkdir(path.join(folder, "nested.binpb"), { recursive: true });
    await writeFile(path.join(folder, "b.binpb"), "B");
    await writeFile(path.join(folder, "a.binpb"), "A");
    await writeFile(path.join(folder, "README.md"), "not a set");
    await writeFile(path.join(temp.dir, "single.pb"), "S");
    const sets = readDescriptorSets([path.join(temp.dir, "single.pb"), folder]);
    assert.deepEqual(sets.map((set) => set.bytes.toString()), ["S", "A", "B"]);
    assert.deepEqual(sets.map((set) => path.basename(set.file)), ["single.pb", "a.binpb", "b.binpb"]);
  });

  it("refuses a folder with no descriptor set, and a path that does not exist", async () => {
    const empty = path.join(temp.dir, "empty");
    await mkdir(empty);
    assert.throws(() => readDescriptorSets([empty]), /holds no descriptor set \(\*\.binpb\)/);
    assert.throws(() => readDescriptorSets([path.join(temp.dir, "missing.binpb")]), /descriptor set .*missing\.binpb: no such file or folder/);
  });
});

import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { credentials, status, type ClientReadableStream, type StatusObject } from "@grpc/grpc-js";
import { SpanKind } from "@opentelemetry/api";
import { MeshService } from "@recq-mesh/kit";
import { CommandAck } from "@recq-mesh/protocol/gen/recq/v1/command";
import { OutcomeState } from "@recq-mesh/protocol/gen/recq/v1/outcomes";
import { ReplyChannelServiceClient, type ListenResponse, type OpenResponse } from "@recq-mesh/protocol/gen/recq/v1/reply_channel";
import { AddTodoItem, CreateTodoList } from "@recq-mesh/todo/gen/todo/v1/commands";
import { GetTodoList, ListTodoLists, TodoListQueryServiceService, TodoListView, WatchTodoList } from "@recq-mesh/todo/gen/todo/v1/queries";
import { call, eventually, failure, startGateway, startHangingQueries, startTodo, tempDir, todoClients, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { within } from "../support/raw-grpc";
import { memorySpans, parentOf } from "../support/tracing";
import { OpenChannel, packed } from "../support/reply-channel-client";

const CREATE = "todo.v1.TodoListCommandService/CreateTodoList";
const ADD_ITEM = "todo.v1.TodoListCommandService/AddTodoItem";
const GET = "todo.v1.TodoListQueryService/GetTodoList";
const LIST = "todo.v1.TodoListQueryService/ListTodoLists";
const WATCH = "todo.v1.TodoListQueryService/WatchTodoList";

const create = (listId: string, name = listId) => packed("todo.v1.CreateTodoList", CreateTodoList, CreateTodoList.fromPartial({ listId, name }));
const addItem = (listId: string, itemId: string) => packed("todo.v1.AddTodoItem", AddTodoItem, AddTodoItem.fromPartial({ listId, itemId, text: itemId }));
const get = (listId: string) => packed("todo.v1.GetTodoList", GetTodoList, GetTodoList.fromPartial({ listId }));
const list = () => packed("todo.v1.ListTodoLists", ListTodoLists, ListTodoLists.fromPartial({}));

function ackOf(answer: OpenResponse): CommandAck {
  assert.equal(answer.result?.$case, "answer", `request ${answer.id}: ${JSON.stringify(answer.result)}`);
  assert.equal(answer.result.value.typeUrl, "type.googleapis.com/recq.v1.CommandAck");
  return CommandAck.decode(answer.result.value.value);
}

function viewOf(answer: OpenResponse): TodoListView {
  assert.equal(answer.result?.$case, "answer", `request ${answer.id}: ${JSON.stringify(answer.result)}`);
  assert.equal(answer.result.value.typeUrl, "type.googleapis.com/todo.v1.TodoListView");
  return TodoListView.decode(answer.result.value.value);
}

function failureOf(answer: OpenResponse) {
  assert.equal(answer.result?.$case, "failure", `request ${answer.id} should have failed: ${JSON.stringify(answer.result)}`);
  return answer.result.value;
}

/** A Listen stream: the messages it received, and its ending status. */
function listen(address: string, channel: string) {
  const client = new ReplyChannelServiceClient(address, credentials.createInsecure());
  const stream: ClientReadableStream<ListenResponse> = client.listen({ channel });
  const messages: ListenResponse[] = [];
  stream.on("data", (message: ListenResponse) => messages.push(message));
  stream.on("error", () => undefined);
  const ended = new Promise<StatusObject>((resolve) => stream.on("status", resolve));
  return {
    messages,
    ended,
    next: (count: number) => eventually(async () => assert.ok(messages.length >= count, `${messages.length} messages, waiting for ${count}`)).then(() => messages[count - 1]!),
    close: () => (stream.cancel(), client.close()),
  };
}

describe("reply-to channels through a real gateway and the TodoList service", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let todo: RunningTodo;

  beforeAll(async () => {
    data = await tempDir("reply-channels");
    mesh = await startGateway(data.dir);
    todo = await startTodo(mesh.address);
  });

  afterAll(async () => {
    todo.mesh.close();
    await mesh.gateway.stop();
    await data.remove();
  });

  it("answers 1,000 mixed commands and queries on one stream, each matched to its id; half-closing ends it OK", async () => {
    const channel = new OpenChannel(mesh.address);
    try {
      const lists = 20;
      const itemsPerList = 24;
      const commands = new Map<string, { listId: string; itemId?: string; commandId: string }>();
      for (let l = 0; l < lists; l++) {
        const listId = `bulk-${l}`;
        commands.set(`c-${listId}`, { listId, commandId: `cmd-${listId}` });
        channel.send({ id: `c-${listId}`, method: CREATE, payload: create(listId), metadata: { "recq-command-id": `cmd-${listId}` } });
      }
      // Items of each list, sent at once: per-aggregate order is the gateway's to keep.
      for (let i = 0; i < itemsPerList; i++) {
        for (let l = 0; l < lists; l++) {
          const listId = `bulk-${l}`;
          const itemId = `item-${i}`;
          const id = `c-${listId}-${itemId}`;
          commands.set(id, { listId, itemId, commandId: `cmd-${listId}-${itemId}` });
          channel.send({ id, method: ADD_ITEM, payload: addItem(listId, itemId), metadata: { "recq-command-id": `cmd-${listId}-${itemId}` } });
        }
      }
      assert.equal(commands.size, 500);
      // Each ack is followed by a query that must see that command, through its consistency token.
      const acks = new Map<string, CommandAck>();
      const queries = await within(
        Promise.all(
          [...commands].map(async ([id, command]) => {
            const ack = ackOf(await channel.answerTo(id));
            assert.equal(ack.commandId, command.commandId);
            acks.set(id, ack);
            const queryId = `q-${id}`;
            channel.send({ id: queryId, method: `/${GET}`, payload: get(command.listId), metadata: { "recq-consistency-token": ack.position } });
            return { queryId, command, ack };
          }),
        ),
        60_000,
        "the acks of 500 commands",
      );
      channel.stream.end();
      for (const { queryId, command, ack } of queries) {
        const view = viewOf(await channel.answerTo(queryId));
        assert.equal(view.listId, command.listId);
        assert.ok(Number(view.version) >= Number(ack.sequence), `${queryId}: view version ${view.version} sees sequence ${ack.sequence}`);
        if (command.itemId !== undefined) assert.ok(view.items.some((item) => item.itemId === command.itemId), `${queryId} sees ${command.itemId}`);
      }
      const ended = await within(channel.ended, 30_000, "the stream's end after half-close");
      assert.equal(ended.code, status.OK);
      assert.equal(channel.answers.length, 1_000);
      assert.equal(new Set(channel.answers.map((answer) => answer.id)).size, 1_000, "one answer per id");
    } finally {
      channel.close();
    }
  });

  it("deduplicates by recq-command-id, answers with the statuses and reasons of single calls, and ends OK on half-close", async () => {
    const channel = new OpenChannel(mesh.address);
    try {
      channel.send({ id: "first", method: CREATE, payload: create("dedupe"), metadata: { "recq-command-id": "dedupe-1" } });
      const first = ackOf(await channel.answerTo("first"));
      channel.send({ id: "again", method: CREATE, payload: create("dedupe"), metadata: { "recq-command-id": "dedupe-1" } });
      const again = ackOf(await channel.answerTo("again"));
      assert.deepEqual(again, first, "the recorded outcome of the first, not a second execution");
      channel.send({ id: "other", method: CREATE, payload: create("dedupe"), metadata: { "recq-command-id": "dedupe-2" } });
      const refused = failureOf(await channel.answerTo("other"));
      assert.equal(refused.code, status.ALREADY_EXISTS);
      assert.equal(refused.reason, "DOMAIN_RULE");
      channel.send({ id: "missing-key", method: CREATE, payload: create("") });
      const missingKey = failureOf(await channel.answerTo("missing-key"));
      assert.equal(missingKey.code, status.INVALID_ARGUMENT);
      assert.match(missingKey.message, /list_id is required/);
      // Half-closed with nothing in flight: the stream ends at once, OK.
      channel.stream.end();
      assert.equal((await within(channel.ended, 10_000, "the stream's end")).code, status.OK);
    } finally {
      channel.close();
    }
  });

  it("answers bad requests alone — wrong Any type, unknown method, streaming query, duplicate or empty id — and the stream goes on", async () => {
    const channel = new OpenChannel(mesh.address);
    try {
      channel.send({ id: "wrong-type", method: CREATE, payload: get("x") });
      const wrongType = failureOf(await channel.answerTo("wrong-type"));
      assert.equal(wrongType.code, status.INVALID_ARGUMENT);
      assert.match(wrongType.message, /the payload is a todo\.v1\.GetTodoList, but .*CreateTodoList takes a todo\.v1\.CreateTodoList/);
      channel.send({ id: "no-payload", method: CREATE });
      assert.equal(failureOf(await channel.answerTo("no-payload")).code, status.INVALID_ARGUMENT);
      channel.send({ id: "unknown", method: "todo.v1.TodoListCommandService/Nope", payload: create("x") });
      const unknown = failureOf(await channel.answerTo("unknown"));
      assert.equal(unknown.code, status.UNIMPLEMENTED);
      assert.match(unknown.message, /no command or query method todo\.v1\.TodoListCommandService\/Nope/);
      channel.send({ id: "streaming", method: WATCH, payload: packed("todo.v1.WatchTodoList", WatchTodoList, { listId: "x" }) });
      const streaming = failureOf(await channel.answerTo("streaming"));
      assert.equal(streaming.code, status.UNIMPLEMENTED);
      assert.match(streaming.message, /is a streaming query: it cannot be called on a reply channel/);
      channel.send({ id: "", method: LIST, payload: list() });
      const empty = failureOf(await channel.answerTo(""));
      assert.equal(empty.code, status.INVALID_ARGUMENT);
      assert.match(empty.message, /has no id/);
      // A duplicate of an id in flight: the first is held in flight by its consistency token, far ahead.
      channel.send({ id: "dup", method: LIST, payload: list(), metadata: { "recq-consistency-token": "999999" }, timeoutMs: 1_000 });
      channel.send({ id: "dup", method: LIST, payload: list() });
      const [duplicate, original] = await channel.answersTo("dup", 2);
      assert.equal(failureOf(duplicate!).code, status.INVALID_ARGUMENT);
      assert.match(failureOf(duplicate!).message, /request id dup is already in flight on this stream/);
      assert.equal(failureOf(original!).code, status.DEADLINE_EXCEEDED, "the first request went on until its own deadline");
      channel.send({ id: "after", method: CREATE, payload: create("after-bad-requests") });
      ackOf(await channel.answerTo("after"));
    } finally {
      channel.close();
    }
  });

  it("delivers outcomes of commands sent with recq-reply-to to the channel's listener: succeeded and failed", async () => {
    const listener = listen(mesh.address, "replies-1");
    const { commands, close } = todoClients(mesh.address);
    try {
      assert.deepEqual((await listener.next(1)).message, { $case: "listening", value: { channel: "replies-1" } });
      const ack = await call(commands, commands.createTodoList, { listId: "replied", name: "R" }, { "recq-reply-to": "replies-1", "recq-command-id": "reply-ok" });
      const succeeded = await listener.next(2);
      assert.equal(succeeded.message?.$case, "outcome");
      assert.equal(succeeded.message.value.state, OutcomeState.OUTCOME_STATE_SUCCEEDED);
      assert.equal(succeeded.message.value.commandId, "reply-ok");
      assert.equal(succeeded.message.value.method, CREATE);
      assert.deepEqual(succeeded.message.value.ack, ack);
      const refused = await failure(call(commands, commands.createTodoList, { listId: "replied", name: "R" }, { "recq-reply-to": "replies-1", "recq-command-id": "reply-fail" }));
      assert.equal(refused.code, status.ALREADY_EXISTS, "the caller still gets its normal answer");
      const failed = await listener.next(3);
      assert.equal(failed.message?.$case, "outcome");
      assert.equal(failed.message.value.state, OutcomeState.OUTCOME_STATE_FAILED);
      assert.equal(failed.message.value.commandId, "reply-fail");
      assert.equal(failed.message.value.failure?.code, status.ALREADY_EXISTS);
      assert.equal(failed.message.value.failure?.reason, "DOMAIN_RULE");
      assert.equal(failed.message.value.failure?.message, refused.details);
      // No command id given: the outcome names the one the gateway chose, which the ack carries too.
      const chosen = await call(commands, commands.addTodoItem, { listId: "replied", itemId: "a", text: "a" }, { "recq-reply-to": "replies-1" });
      const named = await listener.next(4);
      assert.equal(named.message?.$case === "outcome" && named.message.value.commandId, chosen.commandId);
      // Nobody listens on another channel: the command is still answered, its outcome dropped.
      await call(commands, commands.addTodoItem, { listId: "replied", itemId: "b", text: "b" }, { "recq-reply-to": "nobody-here" });
      const badName = await failure(call(commands, commands.addTodoItem, { listId: "replied", itemId: "c", text: "c" }, { "recq-reply-to": "not a name!" }));
      assert.equal(badName.code, status.INVALID_ARGUMENT);
      assert.match(badName.details, /recq-reply-to "not a name!" is not a channel name/);
      // On an Open stream too: the answer comes back on the stream, the outcome to the channel.
      const channel = new OpenChannel(mesh.address);
      try {
        channel.send({ id: "on-stream", method: ADD_ITEM, payload: addItem("replied", "d"), metadata: { "recq-reply-to": "replies-1", "recq-command-id": "reply-stream" } });
        const streamAck = ackOf(await channel.answerTo("on-stream"));
        const fromStream = await listener.next(5);
        assert.equal(fromStream.message?.$case, "outcome");
        assert.equal(fromStream.message.value.commandId, "reply-stream");
        assert.deepEqual(fromStream.message.value.ack, streamAck);
      } finally {
        channel.close();
      }
      assert.equal(listener.messages.length, 5, "only this channel's outcomes");
    } finally {
      listener.close();
      close();
    }
  });

  it("delivers the final outcome of an accepted (recq-mode: async) command to the channel once it has run, not its acceptance", async () => {
    const listener = listen(mesh.address, "accepted-replies");
    const { commands, close } = todoClients(mesh.address);
    try {
      await listener.next(1);
      const headers = { "recq-mode": "async", "recq-reply-to": "accepted-replies" };
      const accepted = await call(commands, commands.createTodoList, { listId: "accepted-replied", name: "A" }, { ...headers, "recq-command-id": "async-ok" });
      assert.equal(accepted.position, "0", "answered at acceptance, before it ran");
      await call(commands, commands.createTodoList, { listId: "accepted-replied", name: "A" }, { ...headers, "recq-command-id": "async-refused" });
      const [succeeded, failed] = [await listener.next(2), await listener.next(3)];
      assert.equal(succeeded.message?.$case === "outcome" && succeeded.message.value.commandId, "async-ok");
      assert.equal(succeeded.message?.$case === "outcome" && succeeded.message.value.state, OutcomeState.OUTCOME_STATE_SUCCEEDED);
      assert.notEqual(succeeded.message?.$case === "outcome" && succeeded.message.value.ack?.position, "0", "the ack of the execution");
      assert.equal(failed.message?.$case === "outcome" && failed.message.value.commandId, "async-refused");
      assert.equal(failed.message?.$case === "outcome" && failed.message.value.failure?.code, status.ALREADY_EXISTS);
      assert.equal(listener.messages.length, 3, "one outcome per command: none for the acceptances");
    } finally {
      listener.close();
      close();
    }
  });

  it("refuses a second listener on a held channel, and a bad channel name; a channel is free again once its listener goes", async () => {
    const first = listen(mesh.address, "held");
    await first.next(1);
    const second = listen(mesh.address, "held");
    const refused = await within(second.ended, 10_000, "the second listener's refusal");
    assert.equal(refused.code, status.ALREADY_EXISTS);
    assert.equal(refused.metadata.get("recq-reason")[0], "CHANNEL_IN_USE");
    second.close();
    const bad = listen(mesh.address, "");
    assert.equal((await within(bad.ended, 10_000, "a bad name's refusal")).code, status.INVALID_ARGUMENT);
    bad.close();
    first.close();
    const third = await eventually(async () => {
      const attempt = listen(mesh.address, "held");
      const message = await within(Promise.race([attempt.next(1), attempt.ended.then((s) => Promise.reject(new Error(s.details)))]), 5_000, "listening");
      assert.equal(message.message?.$case, "listening");
      return attempt;
    });
    third.close();
  });
});

describe("reply channel deadlines, bounds and endings", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let hanging: MeshService;

  beforeAll(async () => {
    data = await tempDir("reply-bounds");
    mesh = await startGateway(data.dir, { limits: { maxCallMsWithoutDeadline: 400, maxChannelRequestsInFlight: 3 } });
    hanging = await startHangingQueries(mesh.address, "hanging-queries");
  });

  afterAll(async () => {
    hanging.close();
    await mesh.gateway.stop();
    await data.remove();
  });

  it("ends each request at its own deadline, or the gateway's limit without one; the stream goes on", async () => {
    const channel = new OpenChannel(mesh.address);
    try {
      channel.send({ id: "short", method: GET, payload: get("x"), timeoutMs: 150 });
      channel.send({ id: "none", method: GET, payload: get("x") });
      const short = failureOf(await channel.answerTo("short"));
      assert.equal(short.code, status.DEADLINE_EXCEEDED);
      assert.match(short.message, /timeout_ms 150/);
      const none = failureOf(await channel.answerTo("none"));
      assert.equal(none.code, status.DEADLINE_EXCEEDED);
      assert.match(none.message, /limit of 400 ms for requests without a deadline/);
      assert.equal(channel.answers[0]!.id, "short", "the shorter deadline is answered first");
      channel.send({ id: "after", method: LIST, payload: list() });
      viewless(await channel.answerTo("after"));
    } finally {
      channel.close();
    }
  });

  it("runs up to the in-flight limit at once and reads the next request only when one is answered", async () => {
    // At the limit (3): two requests hang, the third is read and answered at once, before either hanging one.
    const atLimit = new OpenChannel(mesh.address);
    try {
      atLimit.send({ id: "hang-1", method: GET, payload: get("x"), timeoutMs: 1_000 });
      atLimit.send({ id: "hang-2", method: GET, payload: get("x"), timeoutMs: 1_000 });
      atLimit.send({ id: "quick", method: LIST, payload: list() });
      await atLimit.answered(3);
      assert.deepEqual(atLimit.answers.map((a) => a.id), ["quick", "hang-1", "hang-2"]);
    } finally {
      atLimit.close();
    }
    // One past it: three hang, so the fourth is not read until a deadline frees a slot.
    const pastLimit = new OpenChannel(mesh.address);
    try {
      for (const id of ["hang-1", "hang-2", "hang-3"]) pastLimit.send({ id, method: GET, payload: get("x"), timeoutMs: 1_000 });
      pastLimit.send({ id: "quick", method: LIST, payload: list() });
      await pastLimit.answered(4);
      assert.equal(pastLimit.answers[0]!.id, "hang-1");
      assert.equal(failureOf(pastLimit.answers[0]!).code, status.DEADLINE_EXCEEDED);
      assert.ok(pastLimit.answers.findIndex((a) => a.id === "quick") >= 1, "the fourth request waited for a slot");
    } finally {
      pastLimit.close();
    }
  });

  it("holds a fast sender back with HTTP/2 flow control while at the limit: its requests wait on its side", async () => {
    const flooding = new OpenChannel(mesh.address);
    try {
      for (const id of ["hang-1", "hang-2", "hang-3"]) flooding.send({ id, method: GET, payload: get("x"), timeoutMs: 60_000 });
      // 400 requests of 16 KB: 6.4 MB that the gateway does not read while the three above hang.
      for (let i = 0; i < 400; i++) flooding.send({ id: `flood-${i}`, method: GET, payload: get("f".repeat(16_384)) });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      // What leaves the caller is bounded whatever it sends (66 requests, ~1 MB, measured with 200 and with 400):
      // grpc-js's read-ahead (16 messages), HTTP/2 windows and socket buffers. Without the pause, all would go.
      assert.ok(flooding.stream.writableLength > 300, `${flooding.stream.writableLength} of 403 requests still wait in the caller`);
      assert.equal(flooding.answers.length, 0);
    } finally {
      flooding.close();
    }
  });

  it("cancels the requests in flight when the caller cancels the stream", async () => {
    const started: string[] = [];
    const cancelled: string[] = [];
    const watcher = new MeshService({ address: mesh.address, component: "cancel-watcher" });
    watcher.addQueries({
      service: TodoListQueryServiceService,
      handlers: {
        getTodoList: (request, context) => {
          started.push(request.listId);
          return new Promise((_, reject) => context.signal.addEventListener("abort", () => (cancelled.push(request.listId), reject(new Error("cancelled"))), { once: true }));
        },
        listTodoLists: async () => ({ lists: [], nextPageToken: "" }),
        watchTodoList: async () => undefined,
      },
    });
    hanging.close();
    await watcher.start();
    const channel = new OpenChannel(mesh.address);
    try {
      channel.send({ id: "a", method: GET, payload: get("cancel-a"), timeoutMs: 60_000 });
      channel.send({ id: "b", method: GET, payload: get("cancel-b"), timeoutMs: 60_000 });
      await eventually(async () => assert.equal(started.length, 2, "both requests reached the handler"));
      channel.close();
      await eventually(async () => assert.deepEqual([...cancelled].sort(), ["cancel-a", "cancel-b"]));
      await eventually(async () => assert.equal(mesh.gateway.replyStreamCount, 0));
    } finally {
      channel.close();
      watcher.close();
      hanging = await startHangingQueries(mesh.address, "hanging-queries");
    }
  });
});

/** A ListTodoLists answer from the hanging service: an empty page. */
function viewless(answer: OpenResponse): void {
  assert.equal(answer.result?.$case, "answer", JSON.stringify(answer.result));
  assert.equal(answer.result.value.typeUrl, "type.googleapis.com/todo.v1.TodoListPage");
}

describe("reply channel readers that do not read, and shutdown", () => {
  it("ends a stream whose caller does not read its answers with RESOURCE_EXHAUSTED, and serves others meanwhile", async () => {
    const data = await tempDir("reply-slow");
    const mesh = await startGateway(data.dir, { limits: { maxBufferedAnswers: 20, maxChannelRequestsInFlight: 10 } });
    const todo = await startTodo(mesh.address);
    const { commands, close } = todoClients(mesh.address);
    // A 2 KB view per answer: the caller's 64 KB HTTP/2 window holds about 30 of them.
    const ack = await call(commands, commands.createTodoList, { listId: "big", name: "big" });
    await call(commands, commands.addTodoItem, { listId: "big", itemId: "one", text: "t".repeat(1_000) });
    await call(commands, commands.addTodoItem, { listId: "big", itemId: "two", text: "t".repeat(1_000) });
    const slow = new OpenChannel(mesh.address);
    try {
      slow.stream.pause();
      const token = { "recq-consistency-token": String(Number(ack.position) + 2) };
      for (let i = 0; i < 300; i++) slow.send({ id: `r-${i}`, method: GET, payload: get("big"), metadata: token });
      await eventually(async () => assert.equal(mesh.gateway.replyStreamCount, 1));
      await within(eventually(async () => assert.equal(mesh.gateway.replyStreamCount, 0), 30_000), 40_000, "the slow stream's end");
      // Another caller is served meanwhile.
      await call(commands, commands.createTodoList, { listId: "others-served", name: "x" });
      slow.stream.resume();
      const ended = await within(slow.ended, 10_000, "the slow stream's status");
      assert.equal(ended.code, status.RESOURCE_EXHAUSTED);
      assert.match(ended.details, /the caller reads answers slower than they come/);
      assert.equal(ended.metadata.get("recq-reason")[0], "QUEUE_FULL");
      assert.ok(slow.answers.length < 300, `${slow.answers.length} answers reached the caller`);
    } finally {
      slow.close();
      close();
      todo.mesh.close();
      await mesh.gateway.stop();
      await data.remove();
    }
  });

  it("ends a listener that does not read its outcomes with RESOURCE_EXHAUSTED", async () => {
    const data = await tempDir("reply-slow-listener");
    const mesh = await startGateway(data.dir, { limits: { maxBufferedAnswers: 20 } });
    const todo = await startTodo(mesh.address);
    const { commands, close } = todoClients(mesh.address);
    const client = new ReplyChannelServiceClient(mesh.address, credentials.createInsecure());
    const stream = client.listen({ channel: "slow-listener" });
    const received: ListenResponse[] = [];
    stream.on("data", (message: ListenResponse) => received.push(message));
    stream.on("error", () => undefined);
    const ended = new Promise<StatusObject>((resolve) => stream.on("status", resolve));
    try {
      await eventually(async () => assert.equal(received.length, 1));
      stream.pause();
      // Failed outcomes of about 300 bytes (the message names a long item id): 400 of them fill the listener's
      // 64 KB HTTP/2 window and then the 20 answers the gateway may hold for it.
      await call(commands, commands.createTodoList, { listId: "slow-listener", name: "x" });
      const itemId = "i".repeat(200);
      await call(commands, commands.addTodoItem, { listId: "slow-listener", itemId, text: "x" });
      for (let batch = 0; batch < 8; batch++) {
        await Promise.all(
          Array.from({ length: 50 }, () => failure(call(commands, commands.addTodoItem, { listId: "slow-listener", itemId, text: "x" }, { "recq-reply-to": "slow-listener" }))),
        );
      }
      // Another caller's command is still served.
      await call(commands, commands.createTodoList, { listId: "served-meanwhile", name: "x" });
      stream.resume();
      const endedWith = await within(ended, 10_000, "the slow listener's end");
      assert.equal(endedWith.code, status.RESOURCE_EXHAUSTED);
      assert.equal(endedWith.metadata.get("recq-reason")[0], "QUEUE_FULL");
      assert.ok(received.length < 401, `${received.length} messages reached the listener`);
    } finally {
      stream.cancel();
      client.close();
      close();
      todo.mesh.close();
      await mesh.gateway.stop();
      await data.remove();
    }
  });

  it("requires the caller token on Open and Listen when the gateway has one", async () => {
    const data = await tempDir("reply-token");
    const mesh = await startGateway(data.dir, { clientToken: "secret" });
    const todo = await startTodo(mesh.address);
    const anonymous = new OpenChannel(mesh.address);
    const wrong = new OpenChannel(mesh.address, { authorization: "Bearer nope" });
    const authorized = new OpenChannel(mesh.address, { authorization: "Bearer secret" });
    const listener = listen(mesh.address, "needs-token");
    try {
      assert.equal((await within(anonymous.ended, 10_000, "the anonymous stream's end")).code, status.UNAUTHENTICATED);
      assert.equal((await within(wrong.ended, 10_000, "the wrong token's end")).code, status.PERMISSION_DENIED);
      assert.equal((await within(listener.ended, 10_000, "the anonymous listener's end")).code, status.UNAUTHENTICATED);
      authorized.send({ id: "ok", method: CREATE, payload: create("with-token") });
      ackOf(await authorized.answerTo("ok"));
    } finally {
      for (const channel of [anonymous, wrong, authorized]) channel.close();
      listener.close();
      todo.mesh.close();
      await mesh.gateway.stop();
      await data.remove();
    }
  });

  it("ends Open and Listen streams with UNAVAILABLE / SHUTTING_DOWN when the gateway stops", async () => {
    const data = await tempDir("reply-shutdown");
    const mesh = await startGateway(data.dir);
    const todo = await startTodo(mesh.address);
    const channel = new OpenChannel(mesh.address);
    const listener = listen(mesh.address, "shutdown");
    try {
      channel.send({ id: "one", method: CREATE, payload: create("before-shutdown") });
      ackOf(await channel.answerTo("one"));
      await listener.next(1);
      todo.mesh.close();
      await mesh.gateway.stop();
      for (const ended of [await within(channel.ended, 10_000, "the Open stream's end"), await within(listener.ended, 10_000, "the Listen stream's end")]) {
        assert.equal(ended.code, status.UNAVAILABLE);
        assert.equal(ended.metadata.get("recq-reason")[0], "SHUTTING_DOWN");
      }
    } finally {
      channel.close();
      listener.close();
      await data.remove();
    }
  });
});

describe("reply channel requests held to what single calls are held to: size, admission, tracing", () => {
  const LIMIT_BYTES = 1_024;
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let hanging: MeshService;
  const spans = memorySpans();

  beforeAll(async () => {
    data = await tempDir("reply-single-call-limits");
    mesh = await startGateway(data.dir, { limits: { maxRequestBytes: LIMIT_BYTES, maxCallsInFlight: 4, minCallsInFlight: 4 } });
    hanging = await startHangingQueries(mesh.address, "hanging-queries");
  });

  afterAll(async () => {
    hanging.close();
    await mesh.gateway.stop();
    await data.remove();
  });

  /** A ListTodoLists of exactly `bytes` bytes (a 2-byte length for its one string field). */
  const listOfSize = (bytes: number) => packed("todo.v1.ListTodoLists", ListTodoLists, ListTodoLists.fromPartial({ nameContains: "n".repeat(bytes - 3) }));

  it("refuses a payload over RECQ_MAX_REQUEST_BYTES alone, and takes one at the limit", async () => {
    const channel = new OpenChannel(mesh.address);
    try {
      assert.equal(listOfSize(LIMIT_BYTES).value.length, LIMIT_BYTES);
      channel.send({ id: "at-limit", method: LIST, payload: listOfSize(LIMIT_BYTES) });
      viewless(await channel.answerTo("at-limit"));
      channel.send({ id: "past-limit", method: LIST, payload: listOfSize(LIMIT_BYTES + 1) });
      const refused = failureOf(await channel.answerTo("past-limit"));
      assert.equal(refused.code, status.RESOURCE_EXHAUSTED);
      assert.equal(refused.reason, "REQUEST_TOO_LARGE");
      channel.send({ id: "after", method: LIST, payload: list() });
      viewless(await channel.answerTo("after"));
    } finally {
      channel.close();
    }
  });

  it("admits each request like a unary call: past the connection's share, an OVERLOADED failure for that request", async () => {
    const channel = new OpenChannel(mesh.address);
    try {
      // Limit 4: a connection holding 3 calls is at its share (90% of 4).
      for (const id of ["hang-1", "hang-2", "hang-3"]) channel.send({ id, method: GET, payload: get("x"), timeoutMs: 60_000 });
      channel.send({ id: "refused", method: LIST, payload: list() });
      const refused = failureOf(await channel.answerTo("refused"));
      assert.equal(refused.code, status.RESOURCE_EXHAUSTED);
      assert.equal(refused.reason, "OVERLOADED");
      assert.match(refused.message, /overloaded: this connection holds 3 calls/);
    } finally {
      channel.close();
    }
    // Their slots are given back once the stream is gone.
    const next = new OpenChannel(mesh.address);
    try {
      await eventually(async () => {
        next.send({ id: `after-${next.answers.length}`, method: LIST, payload: list() });
        viewless((await next.answersTo(`after-${next.answers.length}`))[0]!);
      });
    } finally {
      next.close();
    }
  });

  it("opens a server span per request, a child of the request's traceparent, else of the stream's", async () => {
    const requestTrace = "0001" + "4bf92f3577b34da6a3ce929d0e0e47".slice(0, 28);
    const streamTrace = "0002" + "4bf92f3577b34da6a3ce929d0e0e47".slice(0, 28);
    const channel = new OpenChannel(mesh.address, { traceparent: `00-${streamTrace}-00f067aa0ba902b8-01` });
    try {
      channel.send({ id: "traced", method: LIST, payload: list(), metadata: { traceparent: `00-${requestTrace}-00f067aa0ba902b7-01` } });
      channel.send({ id: "stream-traced", method: LIST, payload: list() });
      viewless(await channel.answerTo("traced"));
      viewless(await channel.answerTo("stream-traced"));
      for (const [traceId, parent] of [
        [requestTrace, "00f067aa0ba902b7"],
        [streamTrace, "00f067aa0ba902b8"],
      ] as const) {
        // The gateway's span, a child of the caller's (the handler's own server span is the gateway's grandchild).
        await eventually(async () => {
          const found = spans.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId && s.name === LIST && s.kind === SpanKind.SERVER);
          assert.deepEqual(found.filter((s) => parentOf(s) === parent).length, 1, `one server span ${LIST} in trace ${traceId}, a child of ${parent}`);
        });
      }
    } finally {
      channel.close();
    }
  });
});

import assert from "node:assert/strict";
import { it } from "@jest/globals";
import { parseTodoCliArguments } from "@recq-mesh/todo/internal/cli/todo-cli-arguments";

it("reads each command, with the gateway first when given", () => {
  assert.deepEqual(parseTodoCliArguments(["create", "Groceries"]), { gateway: undefined, command: { name: "create", listName: "Groceries", listId: undefined } });
  assert.deepEqual(parseTodoCliArguments(["--gateway", "h:1", "create", "Groceries", "--id", "g"]).command, { name: "create", listName: "Groceries", listId: "g" });
  assert.equal(parseTodoCliArguments(["--gateway", "h:1", "lists"]).gateway, "h:1");
  assert.deepEqual(parseTodoCliArguments(["add", "Groceries", "Milk"]).command, { name: "add", list: "Groceries", text: "Milk" });
  assert.deepEqual(parseTodoCliArguments(["done", "Groceries", "Milk"]).command, { name: "done", list: "Groceries", item: "Milk" });
  assert.deepEqual(parseTodoCliArguments(["watch", "Groceries"]).command, { name: "watch", list: "Groceries" });
});

it("refuses what it cannot read, saying what and showing the usage", () => {
  for (const [argv, message] of [
    [[], /a command is needed/],
    [["remove", "x"], /unknown command "remove"/],
    [["add", "Groceries"], /add takes a list and a text/],
    [["create"], /create takes a name/],
    [["create", "x", "--id"], /--id takes a list id/],
    [["--gateway"], /--gateway takes an address/],
    [["lists", "extra"], /lists takes nothing more/],
  ] as const) {
    assert.throws(() => parseTodoCliArguments(argv), (error: Error) => message.test(error.message) && error.message.includes("usage: npm run todo --"));
  }
});

import assert from "node:assert/strict";
import { afterAll, beforeAll, it } from "@jest/globals";
import { chromium, type Browser } from "playwright-core";
import { startGateway, startTodo, tempDir, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { describeWith } from "../support/required-tool";
import { CHROMIUM, CHROMIUM_PATH } from "../support/tools";

/**
 * The TodoList page the HTTP port serves at `/` (RECQ_HTTP_PAGE), in headless Chromium: it creates a list, adds an
 * item from its form, and shows the list live over Server-Sent Events — an item another client adds appears too.
 */
describeWith(CHROMIUM)("the TodoList page in a browser", () => {
  let data: Awaited<ReturnType<typeof tempDir>> | undefined;
  let mesh: RunningGateway | undefined;
  let todo: RunningTodo | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    data = await tempDir("web-page");
    mesh = await startGateway(data.dir, { http: { address: "127.0.0.1:0", allowedOrigins: [], heartbeatMs: 15_000, page: true } });
    todo = await startTodo(mesh.address);
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ["--no-sandbox"] });
  });

  afterAll(async () => {
    await browser?.close();
    todo?.mesh.close();
    await mesh?.gateway.stop();
    await data?.remove();
  });

  it("creates a list, adds an item from the form, and shows another client's item live", async () => {
    const base = `http://127.0.0.1:${mesh!.gateway.http!.port}`;
    const page = await browser!.newPage();
    await page.goto(`${base}/`);
    await page.fill("#list-id", "from-the-page");
    await page.click("#open-form button");
    await page.waitForSelector("#item-form:not([hidden])");
    await page.waitForFunction(`document.getElementById("list-name").textContent === "from-the-page"`, undefined, { timeout: 10_000 }).catch(async (error: unknown) => {
      throw new Error(`${String(error)}; the page shows ${await page.textContent("body")}`);
    });
    await page.fill("#item-text", "Milk");
    await page.click("#item-form button");
    await page.waitForFunction(`[...document.querySelectorAll("#items li")].some((li) => li.textContent === "Milk")`, undefined, { timeout: 10_000 });
    // Another client's command reaches the page over its Server-Sent Events stream.
    const added = await fetch(`${base}/todo.v1.TodoListCommandService/AddTodoItem`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ listId: "from-the-page", itemId: "bread", text: "Bread" }),
    });
    assert.equal(added.status, 200);
    await page.waitForFunction(`[...document.querySelectorAll("#items li")].map((li) => li.textContent).join(",") === "Milk,Bread"`, undefined, { timeout: 10_000 });
    assert.equal(await page.textContent("#error"), "");
  });

  it("is off unless asked for", async () => {
    const other = await tempDir("web-page-off");
    const plain = await startGateway(other.dir, { http: { address: "127.0.0.1:0", allowedOrigins: [], heartbeatMs: 15_000 } });
    try {
      assert.equal((await fetch(`http://127.0.0.1:${plain.gateway.http!.port}/`)).status, 404);
    } finally {
      await plain.gateway.stop();
      await other.remove();
    }
  });
});

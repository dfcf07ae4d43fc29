import type { HttpResponse } from "./http-answers";

/**
 * A small page for trying the HTTP port from a browser (RECQ_HTTP_PAGE=1; `npm start` turns it on): creates or
 * opens a TodoList, adds items from a form (Connect JSON), and shows the list live over Server-Sent Events
 * (WatchTodoList), so that another client's commands appear as they happen. It needs the TodoList contracts in
 * the gateway's descriptor set, and a gateway without a caller token (an EventSource cannot send one).
 */
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>RECQ Mesh — TodoList</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 36rem; margin: 2rem auto; padding: 0 1rem; }
  form { display: flex; gap: .5rem; margin: .5rem 0; }
  input[type=text] { flex: 1; }
  #status { color: #666; font-size: .9rem; }
  #error { color: #b00; }
</style>
</head>
<body>
<h1>TodoList</h1>
<form id="open-form">
  <input type="text" id="list-id" placeholder="list id" value="groceries" required>
  <button type="submit">Create or open</button>
</form>
<form id="item-form" hidden>
  <input type="text" id="item-text" placeholder="new item" required>
  <button type="submit">Add</button>
</form>
<h2 id="list-name"></h2>
<ul id="items"></ul>
<p id="status"></p>
<p id="error"></p>
<script>
const $ = (id) => document.getElementById(id);
let listId, events;

async function call(method, message) {
  const response = await fetch("/todo.v1.TodoListCommandService/" + method, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(message),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.code + ": " + body.message);
  return body;
}

function render(view) {
  $("list-name").textContent = view.name || view.listId;
  const items = $("items");
  items.replaceChildren(...(view.items || []).map((item) => {
    const li = document.createElement("li");
    li.textContent = item.text;
    li.dataset.itemId = item.itemId;
    return li;
  }));
  $("status").textContent = "live: version " + (view.version || 0);
}

// The token (a CommandAck's position) makes the watch wait until the view holds that command's change.
function watch(id, token) {
  events?.close();
  const after = token ? "&recq-consistency-token=" + token : "";
  events = new EventSource("/recq/v1/sse/todo.v1.TodoListQueryService/WatchTodoList?message=" + encodeURIComponent(JSON.stringify({ listId: id })) + after);
  events.onmessage = (message) => render(JSON.parse(message.data));
  events.addEventListener("error", (event) => {
    if (event.data) $("error").textContent = JSON.parse(event.data).message;
    $("status").textContent = "reconnecting…";
  });
}

$("open-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  listId = $("list-id").value.trim();
  $("error").textContent = "";
  let token;
  try {
    token = (await call("CreateTodoList", { listId, name: listId })).position;
  } catch (error) {
    // A list that exists already is opened as it is.
    if (!String(error.message).startsWith("already_exists")) $("error").textContent = error.message;
  }
  $("item-form").hidden = false;
  watch(listId, token);
});

$("item-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("item-text").value.trim();
  try {
    await call("AddTodoItem", { listId, itemId: crypto.randomUUID(), text });
    $("item-text").value = "";
  } catch (error) {
    $("error").textContent = error.message;
  }
});
</script>
</body>
</html>
`;

/** Answers `GET /` with the page. */
export function sendTodoPage(response: HttpResponse): void {
  response.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": Buffer.byteLength(PAGE), "cache-control": "no-store" });
  response.end(PAGE);
}

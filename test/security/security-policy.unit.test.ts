import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { loadGatewayConfig } from "@recq-mesh/gateway";
import { tempDir } from "../support/mesh-harness";
import { MethodRules, NamePatterns } from "@recq-mesh/gateway/internal/security/method-rules";
import { DEFAULT_OPEN_METHODS, parseSecurityPolicy } from "@recq-mesh/gateway/internal/security/security-policy";

const parse = (json: unknown) => parseSecurityPolicy(json, "/etc/recq", "policy");

describe("method rules", () => {
  it("lets the most specific pattern decide: the method, then its service, then *", () => {
    const rules = new MethodRules(
      [
        ["*", "any"],
        ["todo.v1.TodoListCommandService/*", "service"],
        ["todo.v1.TodoListCommandService/CreateTodoList", "method"],
      ],
      "test",
    );
    assert.equal(rules.find("todo.v1.TodoListCommandService/CreateTodoList"), "method");
    assert.equal(rules.find("todo.v1.TodoListCommandService/AddTodoItem"), "service");
    assert.equal(rules.find("todo.v1.TodoListQueryService/GetTodoList"), "any");
    assert.equal(new MethodRules([["todo.v1.TodoListCommandService/*", 1]], "test").find("todo.v1.TodoListCommandServiceX/A"), undefined);
  });

  it("refuses what is not a method pattern", () => {
    for (const bad of ["todo.v1.*", "todo.v1.TodoListCommandService", "/todo.v1.S/M", "todo.v1.S/M*"]) {
      assert.throws(() => new MethodRules([[bad, 1]], "callers.permissions"), /callers.permissions: ".*" is not a method pattern/, bad);
    }
  });

  it("matches consumer names exactly or by a prefix and *", () => {
    const names = new NamePatterns(["todo-lists", "todo-lists@*"]);
    assert.equal(names.matches("todo-lists"), true);
    assert.equal(names.matches("todo-lists@instance-1"), true);
    assert.equal(names.matches("todo-listsX"), false);
    assert.equal(names.matches("billing"), false);
  });
});

describe("the security file", () => {
  it("reads callers and components, resolving paths from the file's folder, with defaults", () => {
    const policy = parse({
      callers: { jwt: { secretFile: "jwt.secret", issuer: "i", audience: "a" }, permissions: { "*": ["admin"] } },
      components: { todo: { tokenFile: "todo.token", methods: ["todo.v1.TodoListCommandService/*"] } },
    });
    assert.equal(policy.callers?.jwt?.secretFile, "/etc/recq/jwt.secret");
    assert.equal(policy.callers?.jwt?.permissionsClaim, "scope");
    assert.deepEqual(policy.callers?.open, DEFAULT_OPEN_METHODS);
    assert.deepEqual(policy.callers?.permissions, [["*", ["admin"]]]);
    const todo = policy.components?.get("todo");
    assert.equal(todo?.tokenFile, "/etc/recq/todo.token");
    assert.deepEqual(todo?.consumers, []);
    assert.deepEqual(parse({}), { callers: undefined, components: undefined });
  });

  it("refuses a file that would leave a hole, naming the field", () => {
    assert.throws(() => parse({ callers: { permissions: {} } }), /callers: give jwt, certificates or both/);
    assert.throws(() => parse({ callers: { jwt: { secretFile: "s", audience: "a" } } }), /issuer and audience are required/);
    assert.throws(() => parse({ callers: { jwt: { secretFile: "s", jwksFile: "j", issuer: "i", audience: "a" } } }), /jwksFile, jwksUrl or secretFile \(one of them\)/);
    assert.throws(() => parse({ callers: { jwt: { jwksUrl: "https://idp.example/jwks", jwksFile: "j", issuer: "i", audience: "a" } } }), /jwksFile, jwksUrl or secretFile \(one of them\)/);
    assert.throws(() => parse({ callers: { certificates: { cli: "admin" } } }), /callers.certificates.cli must be an array/);
    assert.throws(() => parse({ components: { todo: { methods: ["*"] } } }), /components.todo: give tokenFile, certificateNames or both/);
    assert.throws(() => parse({ component: {} }), /unknown field "component"/);
    assert.throws(() => parse({ callers: { jwt: { secretFile: "s", issuer: "i", audience: "a", clockToleranceSeconds: 301 } } }), /clockToleranceSeconds must be an integer from 0 to 300/);
  });
});

describe("the security file's jwt.jwksUrl", () => {
  const jwt = (jwksUrl: string) => parse({ callers: { jwt: { jwksUrl, issuer: "i", audience: "a" } } }).callers?.jwt?.jwksUrl;

  it("takes an https URL, or http to a loopback host", () => {
    assert.equal(jwt("https://idp.example/.well-known/jwks.json"), "https://idp.example/.well-known/jwks.json");
    for (const loopback of ["http://127.0.0.1:8081/jwks", "http://localhost/jwks", "http://[::1]:9/jwks", "http://127.9.0.1/jwks"]) assert.equal(jwt(loopback), loopback);
  });

  it("refuses http to any other host, another scheme, and what is not a URL, naming the field", () => {
    for (const refused of ["http://idp.example/jwks", "http://10.0.0.1/jwks", "http://128.0.0.1/jwks", "ftp://127.0.0.1/jwks", "file:///etc/jwks.json"]) {
      assert.throws(() => jwt(refused), /callers\.jwt\.jwksUrl: .* must be an https URL \(http only to a loopback host/, refused);
    }
    assert.throws(() => jwt("idp.example/jwks"), /callers\.jwt\.jwksUrl: "idp.example\/jwks" is not a URL/);
  });
});

describe("RECQ_SECURITY_FILE in the gateway's configuration", () => {
  let temp: { dir: string; remove(): Promise<void> };
  let file: string;
  beforeAll(async () => {
    temp = await tempDir("security-file");
    file = path.join(temp.dir, "security.json");
    writeFileSync(file, JSON.stringify({ callers: { certificates: { ops: ["admin"] } }, components: { todo: { certificateNames: ["todo"] } } }));
  });
  afterAll(() => temp.remove());

  it("is read at start, and replaces the simple mode's tokens rather than joining them", () => {
    assert.equal(loadGatewayConfig([], {}).security, undefined);
    const config = loadGatewayConfig([], { RECQ_SECURITY_FILE: file });
    assert.deepEqual(config.security?.callers?.certificates.get("ops"), ["admin"]);
    for (const token of ["RECQ_CLIENT_TOKEN", "RECQ_EVENTS_TOKEN", "RECQ_ADMIN_TOKEN"]) {
      assert.throws(() => loadGatewayConfig([], { RECQ_SECURITY_FILE: file, [token]: "t" }), /unset RECQ_CLIENT_TOKEN, RECQ_EVENTS_TOKEN and RECQ_ADMIN_TOKEN/, token);
    }
    assert.throws(() => loadGatewayConfig([], { RECQ_SECURITY_FILE: file, RECQ_LINK_TOKEN: "t" }), /unset RECQ_LINK_TOKEN/);
    assert.throws(() => loadGatewayConfig([], { RECQ_SECURITY_FILE: path.join(temp.dir, "missing.json") }), /RECQ_SECURITY_FILE .*missing\.json: ENOENT/);
  });
});

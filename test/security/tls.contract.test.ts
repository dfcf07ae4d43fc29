import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import https from "node:https";
import { connect as tlsConnect } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, it } from "@jest/globals";
import * as grpc from "@grpc/grpc-js";
import { HealthClient } from "@recq-mesh/gateway/gen/grpc/health/v1/health";
import { CertificateFiles } from "@recq-mesh/gateway/internal/security/certificate-files";
import type { TlsSettings } from "@recq-mesh/gateway/internal/security/tls-settings";
import { MeshService, silentLogger } from "@recq-mesh/kit";
import { todoListAggregate } from "@recq-mesh/todo";
import { call, eventually, failure, startGateway, startTodo, tempDir, todoClients, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { issueCertificate, makeCa, type TestCa, type TestCertificate } from "../support/test-certificates";

/** A health check over `channel`: resolves with the overall status, rejects with the call's error. */
function healthCheck(address: string, channel: grpc.ChannelCredentials): Promise<void> {
  const client = new HealthClient(address, channel);
  return new Promise<void>((resolve, reject) =>
    client.check({ service: "" }, new grpc.Metadata(), { deadline: Date.now() + 3_000 }, (error) => {
      client.close();
      if (error) reject(error);
      else resolve();
    }),
  );
}

/** The fingerprint of the certificate a new TLS connection to the gateway is served. */
function servedFingerprint(port: number, ca: TestCa, client?: TestCertificate): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: "127.0.0.1",
      port,
      ca: readFileSync(ca.certificateFile),
      ALPNProtocols: ["h2"],
      ...(client && { cert: readFileSync(client.certificateFile), key: readFileSync(client.keyFile) }),
    });
    socket.once("secureConnect", () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.once("error", reject);
  });
}

const pem = (file: string) => readFileSync(file);

describe("TLS on the gateway's port", () => {
  let dirs: { dir: string; remove(): Promise<void> };
  let ca: TestCa;
  let otherCa: TestCa;
  let server: TestCertificate;
  let client: TestCertificate;
  let strangerClient: TestCertificate;

  beforeAll(async () => {
    dirs = await tempDir("tls");
    ca = makeCa(dirs.dir, "mesh-ca");
    otherCa = makeCa(dirs.dir, "other-ca");
    server = issueCertificate(ca, "gateway", "gateway", ["localhost", "gateway"]);
    client = issueCertificate(ca, "todo", "todo");
    strangerClient = issueCertificate(otherCa, "stranger", "todo");
  });

  afterAll(async () => {
    await dirs.remove();
  });

  async function gatewayWith(settings: Partial<TlsSettings>, dataDir: string): Promise<{ running: RunningGateway; files: CertificateFiles; stop(): Promise<void> }> {
    const files = await CertificateFiles.open(
      { certificateFile: server.certificateFile, keyFile: server.keyFile, clientCaFile: undefined, clientAuth: "required", refreshIntervalMs: 100, ...settings },
      silentLogger,
    );
    const running = await startGateway(dataDir, { credentials: files.serverCredentials() });
    return {
      running,
      files,
      stop: async () => {
        await running.gateway.stop();
        files.close();
      },
    };
  }

  describe("server TLS", () => {
    let tls: Awaited<ReturnType<typeof gatewayWith>>;
    let data: { dir: string; remove(): Promise<void> };

    beforeAll(async () => {
      data = await tempDir("tls-data");
      tls = await gatewayWith({}, data.dir);
    });

    afterAll(async () => {
      await tls.stop();
      await data.remove();
    });

    it("serves a client that trusts its CA", async () => {
      await healthCheck(tls.running.address, grpc.credentials.createSsl(pem(ca.certificateFile)));
    });

    it("refuses a plaintext client", async () => {
      const error = await failure(healthCheck(tls.running.address, grpc.credentials.createInsecure()));
      assert.equal(error.code, grpc.status.UNAVAILABLE);
    });

    it("is not trusted by a client of another CA", async () => {
      const error = await failure(healthCheck(tls.running.address, grpc.credentials.createSsl(pem(otherCa.certificateFile))));
      assert.equal(error.code, grpc.status.UNAVAILABLE);
    });

    it("serves a rewritten certificate to new connections, without a restart", async () => {
      const port = tls.running.gateway.port;
      assert.equal(await servedFingerprint(port, ca), server.fingerprint256);
      const renewed = issueCertificate(ca, "gateway", "gateway", ["localhost", "gateway"]);
      assert.notEqual(renewed.fingerprint256, server.fingerprint256);
      // The watcher reads the files every 100 ms here: wait until a new connection is served the new pair.
      await eventually(async () => assert.equal(await servedFingerprint(port, ca), renewed.fingerprint256), 10_000);
      await healthCheck(tls.running.address, grpc.credentials.createSsl(pem(ca.certificateFile)));
      server = renewed;
    });
  });

  describe("mutual TLS (client certificates required)", () => {
    let tls: Awaited<ReturnType<typeof gatewayWith>>;
    let data: { dir: string; remove(): Promise<void> };
    let todo: RunningTodo | undefined;

    beforeAll(async () => {
      data = await tempDir("mtls-data");
      tls = await gatewayWith({ clientCaFile: ca.certificateFile, clientAuth: "required" }, data.dir);
    });

    afterEach(async () => {
      await todo?.mesh.drain();
      todo = undefined;
    });

    afterAll(async () => {
      await tls.stop();
      await data.remove();
    });

    it("serves a client with a certificate from its CA", async () => {
      await healthCheck(tls.running.address, grpc.credentials.createSsl(pem(ca.certificateFile), pem(client.keyFile), pem(client.certificateFile)));
    });

    it("refuses a client without a certificate", async () => {
      const error = await failure(healthCheck(tls.running.address, grpc.credentials.createSsl(pem(ca.certificateFile))));
      assert.equal(error.code, grpc.status.UNAVAILABLE);
    });

    it("refuses a client whose certificate comes from another CA", async () => {
      const error = await failure(
        healthCheck(tls.running.address, grpc.credentials.createSsl(pem(ca.certificateFile), pem(strangerClient.keyFile), pem(strangerClient.certificateFile))),
      );
      assert.equal(error.code, grpc.status.UNAVAILABLE);
    });

    it("has the kit read its certificate files again: a service whose certificate was refused links once it is replaced", async () => {
      // The service starts with a certificate of another CA, which the gateway refuses in the handshake.
      const rotating = issueCertificate(otherCa, "rotating", "todo");
      const mesh = new MeshService({
        address: tls.running.address,
        component: "todo",
        tls: { caFile: ca.certificateFile, certFile: rotating.certificateFile, keyFile: rotating.keyFile, refreshIntervalMs: 100 },
      }).addAggregate(todoListAggregate);
      let timer: NodeJS.Timeout | undefined;
      try {
        let linked = false;
        const started = mesh.start().then(() => (linked = true));
        await new Promise((resolve) => setTimeout(resolve, 500));
        assert.equal(linked, false, "a service with a certificate of another CA must not link");
        assert.equal(tls.running.gateway.handlerLinkCount, 0);
        // Its files now hold a certificate of the gateway's client CA: a reconnect uses them, without a restart.
        issueCertificate(ca, "rotating", "todo");
        const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("the service did not link within 15 s of its new certificate")), 15_000)));
        await Promise.race([started, timeout]);
        assert.equal(tls.running.gateway.handlerLinkCount, 1);
      } finally {
        clearTimeout(timer);
        mesh.close();
      }
    });

    it("carries a handler's link and consumer stream from the kit over mTLS", async () => {
      todo = await startTodo(tls.running.address, {
        tls: { caFile: ca.certificateFile, certFile: client.certificateFile, keyFile: client.keyFile, refreshIntervalMs: 100 },
      });
      const channel = grpc.credentials.createSsl(pem(ca.certificateFile), pem(client.keyFile), pem(client.certificateFile));
      const clients = todoClients(tls.running.address, channel);
      try {
        await call(clients.commands, clients.commands.createTodoList, { listId: "tls-1", name: "over TLS" });
        const view = await eventually(() => call(clients.queries, clients.queries.getTodoList, { listId: "tls-1" }));
        assert.equal(view.name, "over TLS");
      } finally {
        clients.close();
      }
    });
  });

  describe("TLS on the HTTP port: the gRPC port's certificate files", () => {
    let files: CertificateFiles;
    let running: RunningGateway;
    let todo: RunningTodo;
    let data: { dir: string; remove(): Promise<void> };
    const body = JSON.stringify({ listId: "https-1", name: "over HTTPS" });

    beforeAll(async () => {
      data = await tempDir("https-data");
      files = await CertificateFiles.open({ certificateFile: server.certificateFile, keyFile: server.keyFile, clientCaFile: undefined, clientAuth: "required", refreshIntervalMs: 100 }, silentLogger);
      // The HTTP port alone serves TLS here: the TodoList links over the plaintext gRPC port (TLS links are tested above).
      running = await startGateway(data.dir, { http: { address: "127.0.0.1:0", allowedOrigins: [], heartbeatMs: 15_000, tls: files } });
      todo = await startTodo(running.address, { roles: ["commands"] });
    });

    afterAll(async () => {
      await todo.mesh.drain();
      await running.gateway.stop();
      files.close();
      await data.remove();
    });

    const httpsPost = (path: string, payload: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const request = https.request(
          { host: "127.0.0.1", port: running.gateway.http!.port, path, method: "POST", ca: pem(ca.certificateFile), servername: "localhost", headers: { "content-type": "application/json" } },
          (response) => {
            let text = "";
            response.on("data", (chunk: Buffer) => (text += chunk.toString()));
            response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
          },
        );
        request.once("error", reject);
        request.end(payload);
      });

    it("serves Connect over HTTPS, HTTP/1.1 and HTTP/2 (ALPN), to a client that trusts the CA", async () => {
      const created = await httpsPost("/todo.v1.TodoListCommandService/CreateTodoList", body);
      assert.equal(created.status, 200, created.text);
      assert.match(created.text, /"sequence":"1"/);
      const session = http2.connect(`https://localhost:${running.gateway.http!.port}`, { ca: pem(ca.certificateFile) });
      try {
        const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
          const stream = session.request({ ":method": "POST", ":path": "/todo.v1.TodoListCommandService/CreateTodoList", "content-type": "application/json" });
          let [statusCode, text] = [0, ""];
          stream.on("response", (headers) => (statusCode = Number(headers[":status"])));
          stream.on("data", (chunk: Buffer) => (text += chunk.toString()));
          stream.on("end", () => resolve({ status: statusCode, text }));
          stream.once("error", reject);
          stream.end(body);
        });
        assert.equal(answer.status, 409, "the list exists: the domain's refusal, over HTTP/2");
        assert.match(answer.text, /already_exists/);
      } finally {
        session.close();
      }
    });

    it("refuses a cleartext client, and serves a rewritten certificate to new connections", async () => {
      await assert.rejects(fetch(`http://127.0.0.1:${running.gateway.http!.port}/todo.v1.TodoListCommandService/CreateTodoList`, { method: "POST", headers: { "content-type": "application/json" }, body }));
      const port = running.gateway.http!.port;
      assert.equal(await servedFingerprint(port, ca), server.fingerprint256);
      const renewed = issueCertificate(ca, "gateway", "gateway", ["localhost", "gateway"]);
      await eventually(async () => assert.equal(await servedFingerprint(port, ca), renewed.fingerprint256), 10_000);
      server = renewed;
    });
  });

  it("refuses to start on a key that does not match the certificate, naming the files", async () => {
    const other = issueCertificate(ca, "unrelated", "unrelated");
    await assert.rejects(
      CertificateFiles.open({ certificateFile: server.certificateFile, keyFile: other.keyFile, clientCaFile: undefined, clientAuth: "required", refreshIntervalMs: 100 }, silentLogger),
      (error: Error) => {
        assert.match(error.message, /TLS files unusable/);
        assert.ok(error.message.includes(other.keyFile));
        return true;
      },
    );
  });

  it("refuses to start on a missing file, naming it", async () => {
    await assert.rejects(
      CertificateFiles.open({ certificateFile: `${dirs.dir}/missing.pem`, keyFile: server.keyFile, clientCaFile: undefined, clientAuth: "required", refreshIntervalMs: 100 }, silentLogger),
      /cannot read .*missing\.pem/,
    );
  });
});

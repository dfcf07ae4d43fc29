import { randomUUID } from "node:crypto";
import { status, type ServerDuplexStream } from "@grpc/grpc-js";
import type { ConnectRequest, ConnectResponse, HandlerFrame, Hello, Subscribe, SubscriptionRejection } from "@recq-mesh/protocol/gen/recq/v1/link";
import { MeshError, Reason, type Logger, LINK_PROTOCOL_VERSION } from "@recq-mesh/protocol";
import type { MethodRouter } from "../routing/method-router";
import { checkCredentials } from "./credentials";
import { HandlerLink } from "./handler-link";
import { LinkCalls, type LinkCallLimits, type LinkCallRunner } from "./link-calls";
import type { ComponentAuthorization, IdentifiedComponent } from "../security/component-authorization";
import type { AdmissionControl } from "../admission/admission-control";


export interface LinkServiceOptions extends LinkCallLimits {
  /** When set, a Hello must carry it. */
  linkToken: string | undefined;
  /** Components' identities and grants (the security file); when set, instead of `linkToken`. */
  components?: ComponentAuthorization;
  heartbeatIntervalMs: number;
  maxQueuedDispatches: number;
  maxMessageBytes: number;
  /** The gateway's admission: each call a handler makes through its link takes a slot, as a caller's call does. */
  admission: AdmissionControl;
}

/** The part of the catalog the link service needs: which methods exist. */
export interface SubscribableMethods {
  isDomainMethod(path: string): boolean;
}

/**
 * Serves `recq.v1.HandlerLinkService/Connect`: greets a handler, checks its credentials, accepts or rejects
 * each subscription explicitly, relays permits and replies to its HandlerLink, and closes links that fall
 * silent for three heartbeat intervals.
 */
export class LinkService {
  private readonly links = new Set<HandlerLink>();
  /** The calls each link makes to the mesh. */
  private readonly calls = new WeakMap<HandlerLink, LinkCalls>();
  /** The component each link authenticated as, when components have grants. */
  private readonly grants = new WeakMap<HandlerLink, IdentifiedComponent>();
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly methods: SubscribableMethods,
    private readonly router: MethodRouter,
    private readonly options: LinkServiceOptions,
    private readonly logger: Logger,
    private readonly runCall: LinkCallRunner,
  ) {
    this.heartbeat = setInterval(() => this.beat(), options.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  get linkCount(): number {
    return this.links.size;
  }

  readonly connect = (call: ServerDuplexStream<ConnectRequest, ConnectResponse>): void => {
    const link = new HandlerLink(randomUUID(), call, { maxQueuedDispatches: this.options.maxQueuedDispatches });
    let greeted = false;
    // A stream that never says hello is not a link: it does not get to hold a connection open.
    const helloTimer = setTimeout(() => {
      if (!greeted) link.endWith(new MeshError(status.FAILED_PRECONDITION, `no hello within ${this.options.heartbeatIntervalMs} ms`, Reason.PROTOCOL_VIOLATION));
    }, this.options.heartbeatIntervalMs);
    helloTimer.unref();
    const teardown = (reason: string) => {
      clearTimeout(helloTimer);
      this.calls.get(link)?.cancelAll();
      if (link.isClosed && !this.links.has(link)) return;
      this.links.delete(link);
      this.router.removeLink(link);
      link.close();
      if (greeted) this.logger.info("handler link closed", { handler: link.component, instance: link.instanceId, reason });
    };
    call.on("data", (request: ConnectRequest) => {
      link.lastSeenMs = Date.now();
      for (const frame of request.frames) {
        if (link.isClosed) return;
        try {
          if (!greeted) {
            this.greet(link, frame, call);
            greeted = true;
            clearTimeout(helloTimer);
          } else {
            this.receive(link, frame);
          }
        } catch (thrown) {
          const error = MeshError.from(thrown);
          this.logger.warn("handler link rejected", { handler: link.component, code: error.code, error: error.message });
          this.links.delete(link);
          this.router.removeLink(link);
          link.endWith(error);
          return;
        }
      }
    });
    call.on("end", () => {
      teardown("handler ended the stream");
      call.end();
    });
    call.on("error", (error) => teardown(error.message));
    call.on("cancelled", () => teardown("stream cancelled"));
    call.on("close", () => teardown("stream closed"));
  };

  /** Ends every link (gateway shutdown). */
  closeAll(error: MeshError): void {
    clearInterval(this.heartbeat);
    for (const link of this.links) {
      this.router.removeLink(link);
      link.endWith(error, error);
    }
    this.links.clear();
  }

  private greet(link: HandlerLink, frame: HandlerFrame, call: ServerDuplexStream<ConnectRequest, ConnectResponse>): void {
    if (frame.frame?.$case !== "hello") {
      throw new MeshError(status.FAILED_PRECONDITION, "the first frame of a link must be hello", Reason.PROTOCOL_VIOLATION);
    }
    const hello: Hello = frame.frame.value;
    const component = this.options.components?.identify(hello.component, hello.credentials, call.getAuthContext());
    if (component === undefined) checkCredentials(this.options.linkToken, hello.credentials);
    if (hello.protocolVersion !== LINK_PROTOCOL_VERSION) {
      throw new MeshError(
        status.FAILED_PRECONDITION,
        `link protocol version ${hello.protocolVersion} is not supported; this gateway speaks ${LINK_PROTOCOL_VERSION}`,
        Reason.PROTOCOL_VIOLATION,
      );
    }
    if (!hello.component) throw new MeshError(status.INVALID_ARGUMENT, "hello.component is required", Reason.PROTOCOL_VIOLATION);
    link.component = hello.component;
    link.instanceId = hello.instanceId || link.id;
    // What the gateway may send the handler: within what it accepts and within the gateway's own send limit
    // (RECQ_MAX_LINK_MESSAGE_BYTES), either of which refuses a whole link message past it and so loses the link.
    link.maxMessageBytes = Math.min(hello.maxMessageBytes > 0 ? hello.maxMessageBytes : link.maxMessageBytes, this.options.maxMessageBytes);
    this.replacePreviousLinkOf(link);
    this.links.add(link);
    if (component !== undefined) this.grants.set(link, component);
    this.calls.set(link, new LinkCalls(link, component === undefined ? this.runCall : this.grantedCalls(component), this.options, this.options.admission));
    link.send({
      metadata: {},
      frame: {
        $case: "welcome",
        value: {
          linkId: link.id,
          heartbeatIntervalMs: this.options.heartbeatIntervalMs,
          maxMessageBytes: this.options.maxMessageBytes,
        },
      },
    });
    this.logger.info("handler linked", { handler: link.component, instance: link.instanceId, link: link.id });
  }

  /** A process that reconnects (same component and instance id) replaces its old link, which may be half-open. */
  private replacePreviousLinkOf(link: HandlerLink): void {
    for (const previous of this.links) {
      if (previous.component !== link.component || previous.instanceId !== link.instanceId) continue;
      this.links.delete(previous);
      this.router.removeLink(previous);
      previous.endWith(new MeshError(status.ABORTED, "a newer link of the same handler instance replaced this one", Reason.HANDLER_LOST));
    }
  }

  private receive(link: HandlerLink, frame: HandlerFrame): void {
    const body = frame.frame;
    switch (body?.$case) {
      case "reply":
        link.receiveReply(body.value);
        return;
      case "permits":
        link.grantPermits(body.value.count);
        return;
      case "requestPermits":
        link.receiveRequestPermits(body.value.requestId, body.value.count);
        return;
      case "heartbeat":
        return;
      case "subscribe":
        this.subscribe(link, body.value);
        return;
      case "unsubscribe":
        for (const method of body.value.methods) this.router.unsubscribe(link, `/${method}`);
        return;
      case "call":
        this.calls.get(link)?.start(body.value, frame.metadata);
        return;
      case "drain":
        this.router.removeLink(link);
        link.drain();
        return;
      case "hello":
        throw new MeshError(status.FAILED_PRECONDITION, "hello may be sent only once per link", Reason.PROTOCOL_VIOLATION);
      case undefined:
        // A frame of a newer protocol revision (or an empty one): ignoring it keeps older gateways compatible.
        this.logger.debug("ignored a frame this gateway does not know", { handler: link.component });
        return;
    }
  }

  private subscribe(link: HandlerLink, subscribe: Subscribe): void {
    const accepted: string[] = [];
    const rejected: SubscriptionRejection[] = [];
    for (const subscription of subscribe.subscriptions) {
      const path = `/${subscription.method}`;
      const grant = this.grants.get(link);
      // Refused alone: the component's other subscriptions stand.
      if (grant !== undefined && !grant.mayHandle(subscription.method)) {
        rejected.push({ method: subscription.method, reason: `PERMISSION_DENIED: component ${grant.name} is not granted ${subscription.method}` });
        continue;
      }
      if (!this.methods.isDomainMethod(path)) {
        rejected.push({
          method: subscription.method,
          reason: `no command or query method ${subscription.method} in the gateway's descriptor set`,
        });
        continue;
      }
      this.router.subscribe(path, {
        link,
        loadFactor: subscription.loadFactor > 0 ? subscription.loadFactor : 100,
        projection: subscription.projection,
      });
      accepted.push(subscription.method);
    }
    link.send({ metadata: {}, frame: { $case: "subscribeResult", value: { accepted, rejected } } });
    if (rejected.length > 0) this.logger.warn("subscriptions rejected", { handler: link.component, rejected });
  }

  /** Calls through the link of a component with grants: only the methods it may call, made as the component. */
  private grantedCalls(component: IdentifiedComponent): LinkCallRunner {
    return (call, context) => {
      const method = call.method.startsWith("/") ? call.method.slice(1) : call.method;
      if (!component.mayCall(method)) {
        return Promise.reject(new MeshError(status.PERMISSION_DENIED, `component ${component.name} is not granted calls to ${method}`, Reason.PERMISSION_DENIED));
      }
      return this.runCall(call, { ...context, caller: component.asCaller });
    };
  }

  private beat(): void {
    const staleBefore = Date.now() - 3 * this.options.heartbeatIntervalMs;
    for (const link of this.links) {
      if (link.lastSeenMs < staleBefore) {
        this.links.delete(link);
        this.router.removeLink(link);
        link.endWith(new MeshError(status.UNAVAILABLE, "no frame from the handler for three heartbeat intervals", Reason.HANDLER_LOST));
        continue;
      }
      link.send({ metadata: {}, frame: { $case: "heartbeat", value: {} } });
    }
  }
}

// The gateway as a library: run one inside a process of your own (an integration test, an embedded mesh) the
// way the `recq-gateway` command does (main.ts). The command is what most users need.
export { Gateway, type GatewayOptions } from "./src/gateway";
export { type HttpPortOptions } from "./src/http/http-port";
export { defaultLimits, loadGatewayConfig, type GatewayConfig, type GatewayLimits } from "./src/config";
export { InvalidDescriptorSetError, loadDescriptorCatalog, type DescriptorCatalog } from "./src/descriptors/descriptor-catalog";
export { readDescriptorSets, type DescriptorSetFile } from "./src/descriptors/descriptor-files";
export { GATEWAY_DATABASE, openEventStore, type OpenedEventStore } from "./src/store/open-event-store";
export { EmbeddedEventStore, type EmbeddedEventStoreOptions } from "./src/store/embedded-event-store";
export type { EventStore } from "./src/store/event-store";
export { EmbeddedCommandInbox, type EmbeddedCommandInboxOptions } from "./src/accepted/embedded-command-inbox";
export type { CommandInbox } from "./src/accepted/command-inbox";
export { EmbeddedParkedEventStore, type EmbeddedParkedEventStoreOptions } from "./src/consumers/dead-events/embedded-parked-event-store";
export { VolatileParkedEventStore } from "./src/consumers/dead-events/volatile-parked-event-store";
export type { ParkedEntry, ParkedEventStore } from "./src/consumers/dead-events/parked-event-store";
export type { AcceptedCommand } from "./src/accepted/accepted-command";
export type { AcceptedExecutor } from "./src/accepted/accepted-executor";

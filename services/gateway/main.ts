#!/usr/bin/env node
// Telemetry first: the tracer provider and propagator are registered before anything traces, and the MongoDB
// instrumentation before the driver loads.
import { startTelemetry } from "@recq-mesh/protocol/telemetry";
const telemetry = startTelemetry("recq-gateway", undefined, { instrumentMongoDB: Boolean(process.env.MONGODB_URI?.trim()) });

import { jsonLogger } from "@recq-mesh/protocol";
import { informationRequested } from "./src/command-line";
import { loadGatewayConfig, type GatewayConfig } from "./src/config";
import { InvalidDescriptorSetError, loadDescriptorCatalog, type DescriptorCatalog } from "./src/descriptors/descriptor-catalog";
import { describeSetOrder, readDescriptorSets, type DescriptorSetFile } from "./src/descriptors/descriptor-files";
import { Gateway } from "./src/gateway";
import { CertificateFiles } from "./src/security/certificate-files";
import { CallerAuthorization } from "./src/security/caller-authorization";
import { ComponentAuthorization } from "./src/security/component-authorization";
import { describeTransport } from "./src/security/tls-settings";
import { openEventStore } from "./src/store/open-event-store";

async function main(): Promise<void> {
  const information = informationRequested(process.argv.slice(2));
  if (information !== undefined) {
    process.stdout.write(information);
    await telemetry.shutdown();
    return;
  }
  const logger = jsonLogger("gateway");
  const config = loadGatewayConfig(process.argv.slice(2), process.env);
  const sets = readDescriptorSets(config.descriptorsPaths);
  const catalog = loadCatalogOf(sets);
  // Every file the security settings name is read before the store opens: a mistake stops the start at once.
  const callers = config.security?.callers && CallerAuthorization.fromPolicy(config.security.callers, logger, config.jwks);
  const components = config.security?.components && new ComponentAuthorization(config.security.components, logger);
  const certificates = config.transport.mode === "tls" ? await CertificateFiles.open(config.transport.tls, logger) : undefined;
  const { store, inbox, parkedEvents, location } = await openEventStore(config, process.env, logger);
  const gateway = await Gateway.start({
    address: config.address,
    catalog,
    store,
    inbox,
    parkedEvents,
    linkToken: config.linkToken,
    clientToken: config.clientToken,
    adminToken: config.adminToken,
    eventsToken: config.eventsToken,
    limits: config.limits,
    logger,
    // The HTTP port serves the gRPC port's certificate, when it has one.
    http: config.http && { ...config.http, tls: certificates },
    credentials: certificates?.serverCredentials(),
    callers,
    components,
  });
  logger.info("gateway ready", {
    address: config.address,
    port: gateway.port,
    httpPort: gateway.http?.port,
    transport: describeTransport(config.transport),
    callers: config.security?.callers ? "security file" : config.clientToken ? "shared token" : "open",
    components: config.security?.components ? "security file" : config.linkToken ? "shared token" : "open",
    admin: adminAccess(config),
    ...location,
  });
  // Guarded callers beside open links: whoever reaches the port could register as the handler of their calls.
  if ((callers !== undefined || config.clientToken !== undefined) && components === undefined && config.linkToken === undefined) {
    logger.warn("handler links are open: set RECQ_LINK_TOKEN or the security file's components (docs/security.md)");
  }
  // Guarded callers, unguarded admin: every holder of the callers' token may drop parked events or start rebuilds.
  if (config.clientToken !== undefined && config.adminToken === undefined) {
    logger.warn("the admin services (DeadEventService, ProjectionAdminService) take the callers' token: set RECQ_ADMIN_TOKEN (docs/security.md)");
  }
  const stop = (signal: string) => {
    logger.info("stopping", { signal });
    void gateway
      .stop()
      .then(() => certificates?.close())
      .then(() => telemetry.shutdown())
      .then(() => process.exit(0));
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

/** Who may call the admin services (DeadEventService, ProjectionAdminService), as the ready line says it. */
function adminAccess(config: GatewayConfig): string {
  if (config.security?.callers) return "security file";
  if (config.adminToken !== undefined) return "admin token";
  return config.clientToken !== undefined ? "open to callers (RECQ_CLIENT_TOKEN)" : "open";
}

/** The catalog of the sets read; a refusal says which file each "descriptor set N" is. */
function loadCatalogOf(sets: readonly DescriptorSetFile[]): DescriptorCatalog {
  try {
    return loadDescriptorCatalog(...sets.map((set) => set.bytes));
  } catch (error: unknown) {
    if (error instanceof InvalidDescriptorSetError && sets.length > 1) error.message += ` (descriptor sets: ${describeSetOrder(sets)})`;
    throw error;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`gateway failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

// Telemetry first: the tracer provider and propagator are registered before anything traces, and the MongoDB
// instrumentation before the driver loads.
import { startTelemetry } from "../kit/src/telemetry/start-telemetry";
const telemetry = startTelemetry("recq-gateway", undefined, { instrumentMongoDB: Boolean(process.env.MONGODB_URI?.trim()) });

import { readFileSync } from "node:fs";
import { jsonLogger } from "../kit/src/logging/logger";
import { loadGatewayConfig } from "./src/config";
import { loadDescriptorCatalog } from "./src/descriptors/descriptor-catalog";
import { Gateway } from "./src/gateway";
import { openEventStore } from "./src/store/open-event-store";

async function main(): Promise<void> {
  const logger = jsonLogger("gateway");
  const config = loadGatewayConfig(process.argv.slice(2), process.env);
  const catalog = loadDescriptorCatalog(readFileSync(config.descriptorsPath));
  const { store, location } = await openEventStore(config, process.env, logger);
  const gateway = await Gateway.start({
    address: config.address,
    catalog,
    store,
    linkToken: config.linkToken,
    clientToken: config.clientToken,
    limits: config.limits,
    logger,
  });
  logger.info("gateway ready", { address: config.address, port: gateway.port, ...location });
  const stop = (signal: string) => {
    logger.info("stopping", { signal });
    void gateway
      .stop()
      .then(() => telemetry.shutdown())
      .then(() => process.exit(0));
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

main().catch((error: unknown) => {
  process.stderr.write(`gateway failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

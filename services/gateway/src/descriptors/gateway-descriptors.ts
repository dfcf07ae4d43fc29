import { readFileSync } from "node:fs";
import path from "node:path";

/**
 * The descriptor set of the services the gateway serves itself (grpc.health.v1, grpc.reflection.v1, and the link
 * protocol's recq.v1.HandlerLinkService), built into the package by its build (`npm run descriptors`). The gateway
 * adds it to every catalog, so that reflection describes every service it lists, while a user's descriptor set
 * holds only the user's own files and their imports.
 */
export const GATEWAY_DESCRIPTORS_PATH = path.join(__dirname, "..", "..", "gateway-services.binpb");

let cached: Buffer | undefined;

export function gatewayDescriptorSet(): Buffer {
  cached ??= readFileSync(GATEWAY_DESCRIPTORS_PATH);
  return cached;
}

import { status } from "@grpc/grpc-js";
import type { ServerReflectionRequest, ServerReflectionResponse } from "../../gen/grpc/reflection/v1/reflection";
import type { DescriptorCatalog } from "../descriptors/descriptor-catalog";
import type { SymbolIndex } from "./symbol-index";

type MessageResponse = ServerReflectionResponse["messageResponse"];

/** What a reflection request is answered from. */
export interface ReflectionSources {
  readonly catalog: DescriptorCatalog;
  readonly symbols: SymbolIndex;
  /** The services the server serves at the moment of the request. */
  readonly servedServiceNames: () => string[];
}

/**
 * The answer to one request of the ServerReflectionInfo stream. Lookups that find nothing answer an
 * error_response (NOT_FOUND) on the stream rather than failing it, as gRPC's own implementations do.
 */
export function answerReflectionRequest(request: ServerReflectionRequest, sources: ReflectionSources): ServerReflectionResponse {
  return { validHost: request.host, originalRequest: request, messageResponse: messageResponse(request, sources) };
}

function messageResponse(request: ServerReflectionRequest, sources: ReflectionSources): MessageResponse {
  const { catalog, symbols } = sources;
  const messageRequest = request.messageRequest;
  switch (messageRequest?.$case) {
    case "listServices":
      return { $case: "listServicesResponse", value: { service: sources.servedServiceNames().map((name) => ({ name })) } };
    case "fileByFilename":
      return fileAnswer(catalog, messageRequest.value, `file "${messageRequest.value}" not found`);
    case "fileContainingSymbol": {
      const symbol = messageRequest.value;
      return fileAnswer(catalog, symbols.fileContainingSymbol(symbol), `symbol "${symbol}" not found`);
    }
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = messageRequest.value;
      const fileName = symbols.fileContainingExtension(containingType, extensionNumber);
      return fileAnswer(catalog, fileName, `extension ${extensionNumber} of "${containingType}" not found`);
    }
    case "allExtensionNumbersOfType": {
      const typeName = messageRequest.value;
      const numbers = symbols.extensionNumbersOf(typeName);
      if (numbers === undefined) return errorAnswer(status.NOT_FOUND, `type "${typeName}" not found`);
      return { $case: "allExtensionNumbersResponse", value: { baseTypeName: typeName, extensionNumber: numbers } };
    }
    case undefined:
      return errorAnswer(status.INVALID_ARGUMENT, "the request sets no message_request");
  }
}

/**
 * The file and its transitive imports, each once, original bytes: a client needs all of them to build it. The
 * requested file comes first, then its dependencies, as grpc-go, grpc-java and the C++ server answer: clients
 * written against them (older grpcurl among them) take the first file as the answer.
 */
function fileAnswer(catalog: DescriptorCatalog, fileName: string | undefined, notFound: string): MessageResponse {
  const files = fileName === undefined ? undefined : catalog.fileWithDependencies(fileName);
  if (files === undefined) return errorAnswer(status.NOT_FOUND, notFound);
  return { $case: "fileDescriptorResponse", value: { fileDescriptorProto: requestedFileFirst(files).map((file) => file.bytes) } };
}

/** The catalog lists dependencies before dependents and the file itself last; move the file to the front. */
function requestedFileFirst<T>(withDependencies: readonly T[]): T[] {
  const requested = withDependencies.at(-1);
  return requested === undefined ? [] : [requested, ...withDependencies.slice(0, -1)];
}

function errorAnswer(code: status, message: string): MessageResponse {
  return { $case: "errorResponse", value: { errorCode: code, errorMessage: message } };
}

import type { DescEnum, DescExtension, DescFile, DescMessage, FileRegistry } from "@bufbuild/protobuf";

/** Which file declares what, for the lookups of server reflection. Answers are file names. */
export interface SymbolIndex {
  /** Services, methods (`pkg.Service.Method`), messages, nested messages, fields, enums, enum values, extensions. */
  fileContainingSymbol(symbol: string): string | undefined;
  /** The file declaring extension `number` of the message `extendee`. */
  fileContainingExtension(extendee: string, number: number): string | undefined;
  /** Every known extension number of a message; undefined when the message itself is unknown. */
  extensionNumbersOf(extendee: string): number[] | undefined;
}

export function buildSymbolIndex(registry: FileRegistry): SymbolIndex {
  const fileOfSymbol = new Map<string, string>();
  const extensionsOf = new Map<string, Map<number, string>>();
  for (const file of registry.files) indexFile(file, fileOfSymbol, extensionsOf);
  return {
    fileContainingSymbol: (symbol) => fileOfSymbol.get(withoutLeadingDot(symbol)),
    fileContainingExtension: (extendee, number) => extensionsOf.get(withoutLeadingDot(extendee))?.get(number),
    extensionNumbersOf: (extendee) => {
      const typeName = withoutLeadingDot(extendee);
      if (registry.getMessage(typeName) === undefined) return undefined;
      return [...(extensionsOf.get(typeName)?.keys() ?? [])];
    },
  };
}

function indexFile(file: DescFile, fileOfSymbol: Map<string, string>, extensionsOf: Map<string, Map<number, string>>): void {
  const fileName = file.proto.name;
  const add = (symbol: string): void => void fileOfSymbol.set(symbol, fileName);
  const addExtension = (extension: DescExtension): void => {
    add(extension.typeName);
    const numbers = extensionsOf.get(extension.extendee.typeName) ?? new Map<number, string>();
    numbers.set(extension.number, fileName);
    extensionsOf.set(extension.extendee.typeName, numbers);
  };
  const addEnum = (descEnum: DescEnum, scope: string): void => {
    add(descEnum.typeName);
    // Enum values are siblings of their enum in protobuf's naming (C++ scoping rules), not its children.
    for (const value of descEnum.values) add(scope === "" ? value.name : `${scope}.${value.name}`);
  };
  const addMessage = (message: DescMessage): void => {
    add(message.typeName);
    for (const field of message.fields) add(`${message.typeName}.${field.name}`);
    for (const oneof of message.oneofs) add(`${message.typeName}.${oneof.name}`);
    for (const nested of message.nestedMessages) addMessage(nested);
    // Map entry types (`FooEntry`) are real nested messages to a descriptor pool, but hidden from nestedMessages.
    for (const entry of message.proto.nestedType.filter((nested) => nested.options?.mapEntry === true)) {
      add(`${message.typeName}.${entry.name}`);
      for (const field of entry.field) add(`${message.typeName}.${entry.name}.${field.name}`);
    }
    for (const nested of message.nestedEnums) addEnum(nested, message.typeName);
    for (const nested of message.nestedExtensions) addExtension(nested);
  };
  for (const service of file.services) {
    add(service.typeName);
    for (const method of service.methods) add(`${service.typeName}.${method.name}`);
  }
  for (const message of file.messages) addMessage(message);
  for (const descEnum of file.enums) addEnum(descEnum, file.proto.package);
  for (const extension of file.extensions) addExtension(extension);
}

function withoutLeadingDot(name: string): string {
  return name.startsWith(".") ? name.slice(1) : name;
}

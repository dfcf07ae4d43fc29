import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import type { RoutingKeyField } from "./catalog-entries";
import type { MeshOptionReader } from "./mesh-options";

/**
 * The field of a command message marked `(recq.v1.routing_key)`, or undefined when none is. Adds a problem
 * when the marked field is not a singular string, or when more than one field is marked.
 * Messages used by several commands are checked once per use; callers dedupe problems.
 */
export function findRoutingKey(command: DescMessage, options: MeshOptionReader, problems: string[]): RoutingKeyField | undefined {
  const marked = command.fields.filter((field) => options.isRoutingKey(field));
  if (marked.length === 0) return undefined;
  if (marked.length > 1) {
    const names = marked.map((field) => field.name).join(", ");
    problems.push(
      `command message ${command.typeName} marks ${marked.length} fields as (recq.v1.routing_key) (${names}); at most one is allowed`,
    );
    return undefined;
  }
  const field = marked[0] as DescField;
  if (!isSingularString(field)) {
    problems.push(
      `command message ${command.typeName}: routing key ${field.name} is ${describeField(field)}; ` +
        "a routing key must be a singular string field",
    );
    return undefined;
  }
  return { fieldNumber: field.number, fieldName: field.name };
}

/**
 * Fields marked as routing key anywhere below the command's top level (`Type.field`), following message-typed
 * fields. Messages that are themselves command requests are skipped: they are checked as commands.
 */
export function findNestedRoutingKeys(command: DescMessage, options: MeshOptionReader, commandTypes: ReadonlySet<string>): string[] {
  const found: string[] = [];
  const visited = new Set<string>([command.typeName]);
  const pending = messageTypesOf(command);
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (visited.has(next.typeName) || commandTypes.has(next.typeName)) continue;
    visited.add(next.typeName);
    for (const field of next.fields) {
      if (options.isRoutingKey(field)) found.push(`${next.typeName}.${field.name}`);
    }
    pending.push(...messageTypesOf(next));
  }
  return found;
}

function isSingularString(field: DescField): boolean {
  return field.fieldKind === "scalar" && field.scalar === ScalarType.STRING;
}

function describeField(field: DescField): string {
  switch (field.fieldKind) {
    case "scalar":
      return `a singular ${ScalarType[field.scalar].toLowerCase()}`;
    case "list":
      return "a repeated field";
    case "map":
      return "a map";
    case "enum":
      return "an enum";
    case "message":
      return "a message";
  }
}

function messageTypesOf(message: DescMessage): DescMessage[] {
  const types: DescMessage[] = [];
  for (const field of message.fields) {
    if (field.fieldKind === "message") types.push(field.message);
    else if (field.fieldKind === "list" && field.listKind === "message") types.push(field.message);
    else if (field.fieldKind === "map" && field.mapKind === "message") types.push(field.message);
  }
  return types;
}

import { readFileSync } from "node:fs";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  FileDescriptorSetSchema,
  type DescriptorProto,
  type FieldDescriptorProto,
  type FileDescriptorProto,
  type FileDescriptorSet,
  type MethodDescriptorProto,
  type ServiceDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import { TODO_DESCRIPTORS } from "../support/built-packages";

/** The TodoList set `npm run descriptors` builds (the gateway adds health and reflection to it). */
export const DESCRIPTORS_PATH = TODO_DESCRIPTORS;

export function readDescriptorSetBytes(): Buffer {
  return readFileSync(DESCRIPTORS_PATH);
}

/** The project's set, decoded, changed by `mutate` and encoded again: a bad set for one validation. */
export function mutatedSet(mutate: (set: FileDescriptorSet) => void): Uint8Array {
  const set = fromBinary(FileDescriptorSetSchema, readDescriptorSetBytes());
  mutate(set);
  return toBinary(FileDescriptorSetSchema, set);
}

export function fileNamed(set: FileDescriptorSet, name: string): FileDescriptorProto {
  return found(set.file.find((file) => file.name === name), `file ${name}`);
}

export function messageNamed(file: FileDescriptorProto, name: string): DescriptorProto {
  return found(file.messageType.find((message) => message.name === name), `message ${name}`);
}

export function fieldNamed(message: DescriptorProto, name: string): FieldDescriptorProto {
  return found(message.field.find((field) => field.name === name), `field ${name}`);
}

export function serviceNamed(file: FileDescriptorProto, name: string): ServiceDescriptorProto {
  return found(file.service.find((service) => service.name === name), `service ${name}`);
}

export function methodNamed(service: ServiceDescriptorProto, name: string): MethodDescriptorProto {
  return found(service.method.find((method) => method.name === name), `method ${name}`);
}

function found<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`fixture: ${what} not in the descriptor set`);
  return value;
}

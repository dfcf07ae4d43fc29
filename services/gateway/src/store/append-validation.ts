import { AppendRejectedError, type AppendRequest, type NewEventRecord } from "./event-store";
import type { StoreLimits } from "./embedded-store-options";

/**
 * Rejects a request that no store state could make valid: a broken shape or a limit passed. Throws an Error
 * naming the command and the rule; runs before anything is ordered, so nothing else is affected.
 */
export function validateAppend(request: AppendRequest, limits: StoreLimits): void {
  const command = `append of command "${request.commandId}"`;
  if (typeof request.commandId !== "string" || request.commandId === "") throw new AppendRejectedError("append needs a command id");
  if (!Number.isSafeInteger(request.expectedSequence) || request.expectedSequence < 0) {
    throw new AppendRejectedError(`${command}: expectedSequence must be a non-negative integer, got ${request.expectedSequence}`);
  }
  if (request.aggregateId === "") {
    checkOutcomeOnly(request, command);
    return;
  }
  if (request.events.length > limits.maxEventsPerAppend) {
    throw new AppendRejectedError(`${command} has ${request.events.length} events, more than maxEventsPerAppend (${limits.maxEventsPerAppend})`);
  }
  request.events.forEach((event, index) => checkEvent(event, index, command, limits));
  checkSnapshot(request, command, limits);
}

function checkOutcomeOnly(request: AppendRequest, command: string): void {
  if (request.events.length > 0) {
    throw new AppendRejectedError(`${command} has ${request.events.length} events but no aggregate id: events need an aggregate`);
  }
  if (request.snapshot !== undefined) throw new AppendRejectedError(`${command} has a snapshot but no aggregate id`);
}

function checkEvent(event: NewEventRecord, index: number, command: string, limits: StoreLimits): void {
  if (typeof event.type !== "string" || event.type === "") throw new AppendRejectedError(`${command}: event ${index} has no type`);
  if (!Buffer.isBuffer(event.payload)) throw new AppendRejectedError(`${command}: event ${index} (${event.type}) has a payload that is not a Buffer`);
  if (event.payload.length > limits.maxPayloadBytes) {
    throw new AppendRejectedError(
      `${command}: event ${index} (${event.type}) has a ${event.payload.length}-byte payload, more than maxPayloadBytes (${limits.maxPayloadBytes})`,
    );
  }
}

function checkSnapshot(request: AppendRequest, command: string, limits: StoreLimits): void {
  const snapshot = request.snapshot;
  if (snapshot === undefined) return;
  const sequence = request.expectedSequence + request.events.length;
  if (sequence < 1) throw new AppendRejectedError(`${command}: a snapshot needs an aggregate with at least one event`);
  if (snapshot.sequence !== sequence) {
    throw new AppendRejectedError(`${command}: its snapshot is at sequence ${snapshot.sequence}, but the append leaves the aggregate at ${sequence}`);
  }
  if (!Buffer.isBuffer(snapshot.payload)) throw new AppendRejectedError(`${command}: its snapshot's payload is not a Buffer`);
  if (snapshot.payload.length > limits.maxPayloadBytes) {
    throw new AppendRejectedError(`${command}: its snapshot has ${snapshot.payload.length} bytes, more than maxPayloadBytes (${limits.maxPayloadBytes})`);
  }
}

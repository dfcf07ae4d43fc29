import type { CallOptions } from "../mesh-service";
import type { MethodDefinitionLike, RequestOf, ResponseOf } from "../handlers/definitions";

/**
 * A command or unary query sent to the mesh through the service's own link (`MeshService.call`), as a handler's
 * context offers it: `context.call(TodoListCommandServiceService.createTodoList, { listId, name }, { commandId })`.
 */
export type MeshCall = <M extends MethodDefinitionLike>(method: M, request: RequestOf<M>, options?: CallOptions) => Promise<ResponseOf<M>>;

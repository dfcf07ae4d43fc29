// A plain grpc-js server answering GetTodoList: the baseline a gateway hop is compared with.
import { Server, ServerCredentials, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { TodoListQueryServiceService, type TodoListQueryServiceServer } from "@recq-mesh/todo/gen/todo/v1/queries";
import { answerGetTodoList } from "./fixed-view";

// Tuned like the gateway (channelz off), so the comparison is of the hop, not of a setting.
const server = new Server({ "grpc.enable_channelz": 0 });
const holdMs = Number(process.env.BENCH_HOLD_MS ?? 0);
const implementation: Pick<TodoListQueryServiceServer, "getTodoList"> = {
  getTodoList: (call, callback) =>
    holdMs > 0 ? void setTimeout(() => callback(null, answerGetTodoList(call.request)), holdMs) : callback(null, answerGetTodoList(call.request)),
};
server.addService(TodoListQueryServiceService, implementation as unknown as UntypedServiceImplementation);
server.bindAsync(process.argv[2] ?? "127.0.0.1:0", ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  process.stdout.write(`ready ${port}\n`);
});
// Exits on SIGTERM rather than dying of it, so that a profile (BENCH_CPU_PROF) gets written.
process.on("SIGTERM", () => process.exit(0));

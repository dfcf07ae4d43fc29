/** What one run of the TodoList CLI is asked to do. */
export type TodoCliCommand =
  | { name: "create"; listName: string; listId: string | undefined }
  | { name: "add"; list: string; text: string }
  | { name: "done"; list: string; item: string }
  | { name: "show"; list: string }
  | { name: "watch"; list: string }
  | { name: "lists" };

export const TODO_CLI_USAGE = `usage: npm run todo -- [--gateway <host:port>] <command>
  create <name> [--id <list id>]   create a list (its id a new UUIDv7 unless given)
  add <list> <text>                add an item to a list (a list is named by its id or by its name)
  done <list> <item>               complete an item (by its id or its text)
  show <list>                      print a list
  watch <list>                     print a list, then again at each change, until Ctrl-C or its deletion
  lists                            print every list's id, name and progress
the gateway: --gateway, else RECQ_GATEWAY, else 127.0.0.1:50051; environment: RECQ_CLIENT_TOKEN (a caller token), RECQ_TLS_CA_FILE / RECQ_TLS_CERT_FILE / RECQ_TLS_KEY_FILE`;

/** The command line: the gateway it names (`--gateway`, before the command), and the command. */
export interface TodoCliArguments {
  gateway: string | undefined;
  command: TodoCliCommand;
}

/** Reads the command line (after `--`); throws an Error whose message says what is wrong, with the usage. */
export function parseTodoCliArguments(argv: readonly string[]): TodoCliArguments {
  if (argv[0] !== "--gateway") return { gateway: undefined, command: parseCommand(argv) };
  const gateway = argv[1];
  if (gateway === undefined || gateway === "") throw new Error(`--gateway takes an address, host:port\n${TODO_CLI_USAGE}`);
  return { gateway, command: parseCommand(argv.slice(2)) };
}

function parseCommand(argv: readonly string[]): TodoCliCommand {
  const [name, ...rest] = argv;
  const expect = (count: number, what: string): string[] => {
    if (rest.length !== count) throw new Error(`${name} takes ${what}\n${TODO_CLI_USAGE}`);
    return rest;
  };
  switch (name) {
    case "create": {
      const idAt = rest.indexOf("--id");
      const listId = idAt < 0 ? undefined : rest[idAt + 1];
      if (idAt >= 0 && (listId === undefined || listId === "")) throw new Error(`--id takes a list id\n${TODO_CLI_USAGE}`);
      const names = idAt < 0 ? rest : [...rest.slice(0, idAt), ...rest.slice(idAt + 2)];
      if (names.length !== 1) throw new Error(`create takes a name\n${TODO_CLI_USAGE}`);
      return { name, listName: names[0]!, listId };
    }
    case "add": {
      const [list, text] = expect(2, "a list and a text");
      return { name, list: list!, text: text! };
    }
    case "done": {
      const [list, item] = expect(2, "a list and an item");
      return { name, list: list!, item: item! };
    }
    case "show":
    case "watch":
      return { name, list: expect(1, "a list")[0]! };
    case "lists":
      expect(0, "nothing more");
      return { name };
    default:
      throw new Error(`${name === undefined ? "a command is needed" : `unknown command "${name}"`}\n${TODO_CLI_USAGE}`);
  }
}

// Command todoclient runs the TodoList scenario against a RECQ Mesh gateway with stubs generated from the
// contracts (buf with protoc-gen-go and protoc-gen-go-grpc): it proves the contracts serve a generated client in
// another language, not only reflection clients. It prints one JSON line of what it saw, or exits 1 saying what
// differed from what the mesh promises.
//
// Usage: todoclient <gateway host:port>
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	todov1 "recq-mesh.example/todoclient/gen/todo/v1"
)

// Every call has a deadline: a mesh that stops answering fails the scenario instead of hanging it.
const callTimeout = 10 * time.Second

type observed struct {
	ListID         string   `json:"list_id"`
	Position       uint64   `json:"position"`
	ReadVersion    uint64   `json:"read_version"`
	ReadCompleted  bool     `json:"read_completed"`
	WatchedNames   []string `json:"watched_names"`
	RefusedCode    string   `json:"refused_code"`
	RefusedReason  string   `json:"refused_reason"`
	RefusedMessage string   `json:"refused_message"`
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: todoclient <gateway host:port>")
	}
	conn, err := grpc.NewClient(os.Args[1], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fail("connect: %v", err)
	}
	defer conn.Close()
	seen, err := scenario(todov1.NewTodoListCommandServiceClient(conn), todov1.NewTodoListQueryServiceClient(conn))
	if err != nil {
		fail("%v", err)
	}
	line, _ := json.Marshal(seen)
	fmt.Println(string(line))
}

func scenario(commands todov1.TodoListCommandServiceClient, queries todov1.TodoListQueryServiceClient) (*observed, error) {
	seen := &observed{ListID: "go-" + randomSuffix()}
	list := seen.ListID
	if _, err := command(func(ctx context.Context) (*ackLike, error) {
		return ack(commands.CreateTodoList(ctx, &todov1.CreateTodoList{ListId: list, Name: "From Go"}))
	}); err != nil {
		return nil, fmt.Errorf("CreateTodoList: %w", err)
	}
	if _, err := command(func(ctx context.Context) (*ackLike, error) {
		return ack(commands.AddTodoItem(ctx, &todov1.AddTodoItem{ListId: list, ItemId: "tea", Text: "Tea"}))
	}); err != nil {
		return nil, fmt.Errorf("AddTodoItem: %w", err)
	}
	completed, err := command(func(ctx context.Context) (*ackLike, error) {
		return ack(commands.CompleteTodoItem(ctx, &todov1.CompleteTodoItem{ListId: list, ItemId: "tea"}))
	})
	if err != nil {
		return nil, fmt.Errorf("CompleteTodoItem: %w", err)
	}
	seen.Position = completed.position
	if err := readOwnWrite(queries, seen); err != nil {
		return nil, err
	}
	if err := watch(commands, queries, seen); err != nil {
		return nil, err
	}
	if _, err := command(func(ctx context.Context) (*ackLike, error) {
		return ack(commands.DeleteTodoList(ctx, &todov1.DeleteTodoList{ListId: list}))
	}); err != nil {
		return nil, fmt.Errorf("DeleteTodoList: %w", err)
	}
	return seen, refusedAfterDelete(commands, seen)
}

// readOwnWrite reads the list with the last ack's position as the consistency token: the view must show it.
func readOwnWrite(queries todov1.TodoListQueryServiceClient, seen *observed) error {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "recq-consistency-token", strconv.FormatUint(seen.Position, 10))
	view, err := queries.GetTodoList(ctx, &todov1.GetTodoList{ListId: seen.ListID})
	if err != nil {
		return fmt.Errorf("GetTodoList with the consistency token: %w", err)
	}
	if len(view.GetItems()) != 1 || !view.GetItems()[0].GetCompleted() {
		return fmt.Errorf("GetTodoList with the consistency token: the view does not show the completed item: %v", view)
	}
	seen.ReadVersion, seen.ReadCompleted = view.GetVersion(), true
	return nil
}

// watch subscribes to the list, renames it, and expects the initial view and then the renamed one.
func watch(commands todov1.TodoListCommandServiceClient, queries todov1.TodoListQueryServiceClient, seen *observed) error {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	stream, err := queries.WatchTodoList(ctx, &todov1.WatchTodoList{ListId: seen.ListID})
	if err != nil {
		return fmt.Errorf("WatchTodoList: %w", err)
	}
	first, err := stream.Recv()
	if err != nil {
		return fmt.Errorf("WatchTodoList, the initial view: %w", err)
	}
	if _, err := command(func(ctx context.Context) (*ackLike, error) {
		return ack(commands.RenameTodoList(ctx, &todov1.RenameTodoList{ListId: seen.ListID, Name: "Renamed from Go"}))
	}); err != nil {
		return fmt.Errorf("RenameTodoList: %w", err)
	}
	second, err := stream.Recv()
	if err != nil {
		return fmt.Errorf("WatchTodoList, the view after the rename: %w", err)
	}
	seen.WatchedNames = []string{first.GetName(), second.GetName()}
	if second.GetName() != "Renamed from Go" {
		return fmt.Errorf("WatchTodoList: the second view is not the renamed list: %v", second)
	}
	return nil
}

// refusedAfterDelete sends a command for the deleted list: the mesh answers the handler's refusal unchanged,
// with the machine-readable reason in the recq-reason trailer.
func refusedAfterDelete(commands todov1.TodoListCommandServiceClient, seen *observed) error {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	var trailer metadata.MD
	_, err := commands.AddTodoItem(ctx, &todov1.AddTodoItem{ListId: seen.ListID, ItemId: "late", Text: "Late"}, grpc.Trailer(&trailer))
	if err == nil {
		return fmt.Errorf("AddTodoItem after DeleteTodoList succeeded")
	}
	refusal := status.Convert(err)
	seen.RefusedCode, seen.RefusedMessage = refusal.Code().String(), refusal.Message()
	if reasons := trailer.Get("recq-reason"); len(reasons) > 0 {
		seen.RefusedReason = reasons[0]
	}
	if refusal.Code() != codes.FailedPrecondition || seen.RefusedReason != "DOMAIN_RULE" {
		return fmt.Errorf("AddTodoItem after DeleteTodoList: %s %q, recq-reason %q", refusal.Code(), refusal.Message(), seen.RefusedReason)
	}
	return nil
}

// ackLike is what the scenario needs of a recq.v1.CommandAck.
type ackLike struct{ position uint64 }

type commandAck interface{ GetPosition() uint64 }

func ack[A commandAck](reply A, err error) (*ackLike, error) {
	if err != nil {
		return nil, err
	}
	return &ackLike{position: reply.GetPosition()}, nil
}

// command runs one command under its own deadline.
func command(send func(context.Context) (*ackLike, error)) (*ackLike, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	return send(ctx)
}

func randomSuffix() string {
	bytes := make([]byte, 4)
	_, _ = rand.Read(bytes)
	return hex.EncodeToString(bytes)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "todoclient: "+format+"\n", args...)
	os.Exit(1)
}

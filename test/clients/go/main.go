// Command todoclient runs the TodoList scenario against a RECQ Mesh gateway through stubs generated from the
// contracts (protoc-gen-go, protoc-gen-go-grpc), not through reflection: it proves the contracts serve a
// compiled client in another language. It prints one JSON line of what it observed, or exits 1 with the first
// mismatch on stderr (exit 2: bad arguments).
//
//	todoclient [-timeout 10s] 127.0.0.1:50051
//
// The stubs are not committed: test/e2e/go-client.e2e.test.ts generates them (buf.gen.yaml beside this file).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	recqv1 "recq-mesh.test/todoclient/gen/recq/v1"
	todov1 "recq-mesh.test/todoclient/gen/todo/v1"
)

// The mesh's metadata keys (README "Commands", "Queries"; services/protocol/src/errors/mesh-error.ts).
const (
	commandIDKey        = "recq-command-id"
	consistencyTokenKey = "recq-consistency-token"
	reasonKey           = "recq-reason"
)

// Ack is what a command answered, as the contract says: command id, event position, aggregate sequence.
type Ack struct {
	CommandID string `json:"commandId"`
	Position  uint64 `json:"position"`
	Sequence  uint64 `json:"sequence"`
}

// Item is one item of a view.
type Item struct {
	ItemID    string `json:"itemId"`
	Text      string `json:"text"`
	Completed bool   `json:"completed"`
}

// View is the part of a TodoListView the scenario checks.
type View struct {
	ListID         string `json:"listId"`
	Name           string `json:"name"`
	Version        uint64 `json:"version"`
	Deleted        bool   `json:"deleted"`
	ItemCount      uint32 `json:"itemCount"`
	CompletedCount uint32 `json:"completedCount"`
	Items          []Item `json:"items"`
}

// Refusal is how a call failed: its status, and the mesh's recq-reason with where grpc-go found it. The mesh
// sends the reason as trailing metadata, so "trailer" is what the scenario expects.
type Refusal struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Reason   string `json:"reason"`
	ReasonIn string `json:"reasonIn"`
}

// Watch is what WatchTodoList streamed: every view in order, and how the stream ended.
type Watch struct {
	Views []View `json:"views"`
	End   string `json:"end"`
}

// Observed is the one JSON line the program prints.
type Observed struct {
	ListID      string             `json:"listId"`
	Acks        map[string]Ack     `json:"acks"`
	View        View               `json:"view"`
	Watch       Watch              `json:"watch"`
	AfterDelete map[string]Refusal `json:"afterDelete"`
}

func main() {
	timeout := flag.Duration("timeout", 10*time.Second, "deadline of each call (and of the whole watch)")
	flag.Usage = func() { fmt.Fprintln(os.Stderr, "usage: todoclient [-timeout 10s] HOST:PORT") }
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	observed, err := run(flag.Arg(0), *timeout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "todoclient:", err)
		os.Exit(1)
	}
	line, err := json.Marshal(observed)
	if err != nil {
		fmt.Fprintln(os.Stderr, "todoclient:", err)
		os.Exit(1)
	}
	fmt.Println(string(line))
}

// client holds the two generated stubs on one connection, and the deadline every call gets.
type client struct {
	commands todov1.TodoListCommandServiceClient
	queries  todov1.TodoListQueryServiceClient
	timeout  time.Duration
}

// run is the whole scenario, step by step; the first mismatch ends it.
func run(address string, timeout time.Duration) (*Observed, error) {
	// grpc.NewClient connects lazily, so a wrong address shows as UNAVAILABLE on the first call, within its deadline.
	conn, err := grpc.NewClient(address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", address, err)
	}
	defer conn.Close()
	c := &client{todov1.NewTodoListCommandServiceClient(conn), todov1.NewTodoListQueryServiceClient(conn), timeout}

	listID, err := uniqueID("go-")
	if err != nil {
		return nil, err
	}
	o := &Observed{ListID: listID, Acks: map[string]Ack{}, AfterDelete: map[string]Refusal{}}

	if err := c.buildList(o); err != nil {
		return nil, err
	}
	if err := c.readYourWrite(o); err != nil {
		return nil, err
	}
	if err := c.watchThroughDelete(o); err != nil {
		return nil, err
	}
	if err := c.refusedAfterDelete(o); err != nil {
		return nil, err
	}
	return o, nil
}

// buildList creates the list with our own command id (which the ack must echo), adds an item and completes it.
// Each command appends one event, so the aggregate's sequence counts 1, 2, 3.
func (c *client) buildList(o *Observed) error {
	commandID := o.ListID + "-create"
	create, err := c.command("create", o, func(ctx context.Context) (*recqv1.CommandAck, error) {
		ctx = metadata.AppendToOutgoingContext(ctx, commandIDKey, commandID)
		return c.commands.CreateTodoList(ctx, &todov1.CreateTodoList{ListId: o.ListID, Name: "Go groceries"})
	}, 1)
	if err != nil {
		return err
	}
	if create.CommandID != commandID {
		return fmt.Errorf("create: the ack's command id is %q, want the one sent in %s, %q", create.CommandID, commandIDKey, commandID)
	}
	if _, err := c.command("add", o, func(ctx context.Context) (*recqv1.CommandAck, error) {
		return c.commands.AddTodoItem(ctx, &todov1.AddTodoItem{ListId: o.ListID, ItemId: "milk", Text: "Milk"})
	}, 2); err != nil {
		return err
	}
	_, err = c.command("complete", o, func(ctx context.Context) (*recqv1.CommandAck, error) {
		return c.commands.CompleteTodoItem(ctx, &todov1.CompleteTodoItem{ListId: o.ListID, ItemId: "milk"})
	}, 3)
	return err
}

// command runs one command under its own deadline, records its ack under name, and checks the sequence it reports.
func (c *client) command(name string, o *Observed, send func(context.Context) (*recqv1.CommandAck, error), wantSequence uint64) (Ack, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	reply, err := send(ctx)
	if err != nil {
		return Ack{}, fmt.Errorf("%s: %w", name, err)
	}
	ack := Ack{CommandID: reply.GetCommandId(), Position: reply.GetPosition(), Sequence: reply.GetSequence()}
	o.Acks[name] = ack
	if ack.CommandID == "" || ack.Position == 0 {
		return ack, fmt.Errorf("%s: the ack has no command id or no position: %+v", name, ack)
	}
	if ack.Sequence != wantSequence {
		return ack, fmt.Errorf("%s: the ack's sequence is %d, want %d", name, ack.Sequence, wantSequence)
	}
	return ack, nil
}

// readYourWrite reads the list with the last ack's position as the consistency token: the gateway must answer
// only once the view has that write, so the item is completed on the first read, with no retry.
func (c *client) readYourWrite(o *Observed) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, consistencyTokenKey, token(o.Acks["complete"]))
	reply, err := c.queries.GetTodoList(ctx, &todov1.GetTodoList{ListId: o.ListID})
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	o.View = viewOf(reply)
	want := View{ListID: o.ListID, Name: "Go groceries", Version: 3, ItemCount: 1, CompletedCount: 1, Items: []Item{{"milk", "Milk", true}}}
	return sameView("get with the consistency token", o.View, want)
}

// watchThroughDelete subscribes to the list, renames it once the current view has come, then deletes it: the
// stream must bring the current view, the renamed one, the deleted one, and then end with OK. One deadline
// bounds the whole subscription.
func (c *client) watchThroughDelete(o *Observed) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, consistencyTokenKey, token(o.Acks["complete"]))
	stream, err := c.queries.WatchTodoList(ctx, &todov1.WatchTodoList{ListId: o.ListID})
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	next := func(step string, want View) error {
		reply, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("watch, %s: %w", step, err)
		}
		view := viewOf(reply)
		o.Watch.Views = append(o.Watch.Views, view)
		return sameView("watch, "+step, view, want)
	}

	current := View{ListID: o.ListID, Name: "Go groceries", Version: 3, ItemCount: 1, CompletedCount: 1, Items: []Item{{"milk", "Milk", true}}}
	if err := next("the current view", current); err != nil {
		return err
	}
	// Renamed only now: a change made before the first view came could be folded into it.
	if _, err := c.command("rename", o, func(ctx context.Context) (*recqv1.CommandAck, error) {
		return c.commands.RenameTodoList(ctx, &todov1.RenameTodoList{ListId: o.ListID, Name: "Go groceries, renamed"})
	}, 4); err != nil {
		return err
	}
	renamed := current
	renamed.Name, renamed.Version = "Go groceries, renamed", 4
	if err := next("after the rename", renamed); err != nil {
		return err
	}

	if _, err := c.command("delete", o, func(ctx context.Context) (*recqv1.CommandAck, error) {
		return c.commands.DeleteTodoList(ctx, &todov1.DeleteTodoList{ListId: o.ListID})
	}, 5); err != nil {
		return err
	}
	deleted := renamed
	deleted.Version, deleted.Deleted = 5, true
	if err := next("after the delete", deleted); err != nil {
		return err
	}
	// The subscription ends by itself once the list is deleted: io.EOF is grpc-go's word for status OK.
	_, err = stream.Recv()
	switch {
	case errors.Is(err, io.EOF):
		o.Watch.End = codes.OK.String()
		return nil
	case err == nil:
		return errors.New("watch: a view came after the deleted one; the stream should have ended")
	default:
		o.Watch.End = status.Code(err).String()
		return fmt.Errorf("watch: the stream ended with %w, want OK", err)
	}
}

// refusedAfterDelete sends a command to the deleted list, which the aggregate must refuse as a domain rule
// (services/todo/src/todo-list-aggregate.ts), and reads the list, which the view must no longer have.
func (c *client) refusedAfterDelete(o *Observed) error {
	add, err := c.refusal(func(ctx context.Context, opts ...grpc.CallOption) error {
		_, err := c.commands.AddTodoItem(ctx, &todov1.AddTodoItem{ListId: o.ListID, ItemId: "late", Text: "Too late"}, opts...)
		return err
	})
	if err != nil {
		return fmt.Errorf("add after delete: %w", err)
	}
	o.AfterDelete["add"] = add
	want := Refusal{Code: codes.FailedPrecondition.String(), Message: "todo list " + o.ListID + " is deleted", Reason: "DOMAIN_RULE", ReasonIn: "trailer"}
	if add != want {
		return fmt.Errorf("add after delete: refused with %+v, want %+v", add, want)
	}

	get, err := c.refusal(func(ctx context.Context, opts ...grpc.CallOption) error {
		_, err := c.queries.GetTodoList(ctx, &todov1.GetTodoList{ListId: o.ListID}, opts...)
		return err
	})
	if err != nil {
		return fmt.Errorf("get after delete: %w", err)
	}
	o.AfterDelete["get"] = get
	if get.Code != codes.NotFound.String() || get.ReasonIn != "trailer" {
		return fmt.Errorf("get after delete: refused with %+v, want NotFound with a recq-reason trailer", get)
	}
	return nil
}

// refusal makes one call that must fail, under its own deadline, and says how it failed: the status, and the
// recq-reason metadata from the trailer, or else from the header.
func (c *client) refusal(call func(context.Context, ...grpc.CallOption) error) (Refusal, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	var header, trailer metadata.MD
	err := call(ctx, grpc.Header(&header), grpc.Trailer(&trailer))
	if err == nil {
		return Refusal{}, errors.New("the call succeeded, but it must be refused")
	}
	st, ok := status.FromError(err)
	if !ok {
		return Refusal{}, fmt.Errorf("not a gRPC status: %w", err)
	}
	refusal := Refusal{Code: st.Code().String(), Message: st.Message()}
	if reason := trailer.Get(reasonKey); len(reason) > 0 {
		refusal.Reason, refusal.ReasonIn = reason[0], "trailer"
	} else if reason := header.Get(reasonKey); len(reason) > 0 {
		refusal.Reason, refusal.ReasonIn = reason[0], "header"
	}
	return refusal, nil
}

// viewOf copies the checked fields of a generated view into the plain struct the JSON line shows.
func viewOf(v *todov1.TodoListView) View {
	view := View{ListID: v.GetListId(), Name: v.GetName(), Version: v.GetVersion(), Deleted: v.GetDeleted(), ItemCount: v.GetItemCount(), CompletedCount: v.GetCompletedCount(), Items: []Item{}}
	for _, item := range v.GetItems() {
		view.Items = append(view.Items, Item{ItemID: item.GetItemId(), Text: item.GetText(), Completed: item.GetCompleted()})
	}
	return view
}

// sameView compares a view with what the scenario expects, and names the step that differs.
func sameView(step string, got, want View) error {
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		return fmt.Errorf("%s: the view is %s, want %s", step, gotJSON, wantJSON)
	}
	return nil
}

// token is an ack's position as a consistency token: the decimal position, as the gateway reads it.
func token(ack Ack) string {
	return strconv.FormatUint(ack.Position, 10)
}

// uniqueID gives each run its own list, so runs against one gateway (or a kept data folder) never collide.
func uniqueID(prefix string) (string, error) {
	random := make([]byte, 6)
	if _, err := rand.Read(random); err != nil {
		return "", fmt.Errorf("random list id: %w", err)
	}
	return prefix + strconv.FormatInt(time.Now().UnixMilli(), 36) + "-" + hex.EncodeToString(random), nil
}

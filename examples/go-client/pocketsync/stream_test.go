package pocketsync

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	syncv1 "github.com/pocket-sync/pocket-sync/gen/go/pocket/sync/v1"
	"github.com/pocket-sync/pocket-sync/gen/go/pocket/sync/v1/syncv1connect"
)

// scriptedServer answers the n-th Subscribe with script[n] and records what
// each subscription asked for.
type scriptedServer struct {
	syncv1connect.UnimplementedSyncServiceHandler
	script []func(ctx context.Context, stream *connect.ServerStream[syncv1.SubscribeResponse]) error

	mu       sync.Mutex
	requests []*syncv1.SubscribeRequest
	tokens   []string
	calls    chan int
}

func (s *scriptedServer) Subscribe(ctx context.Context, req *connect.Request[syncv1.SubscribeRequest], stream *connect.ServerStream[syncv1.SubscribeResponse]) error {
	s.mu.Lock()
	n := len(s.requests)
	s.requests = append(s.requests, req.Msg)
	s.tokens = append(s.tokens, req.Header().Get("Authorization"))
	s.mu.Unlock()
	s.calls <- n
	if n >= len(s.script) {
		<-ctx.Done()
		return nil
	}
	return s.script[n](ctx, stream)
}

func batch(cp *syncv1.Checkpoint, changes ...*syncv1.ChangeEvent) *syncv1.SubscribeResponse {
	return &syncv1.SubscribeResponse{Event: &syncv1.SubscribeResponse_Changes{Changes: &syncv1.ChangeBatch{Changes: changes, Checkpoint: cp, CaughtUp: true}}}
}

func position(n uint64) *syncv1.Checkpoint {
	return &syncv1.Checkpoint{ServerSequence: n, Collections: map[string]uint64{"todos": n}}
}

func serve(handler syncv1connect.SyncServiceHandler) *httptest.Server {
	mux := http.NewServeMux()
	mux.Handle(syncv1connect.NewSyncServiceHandler(handler))
	return httptest.NewServer(mux)
}

func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// The stream resumes from the checkpoint stored last, whatever ended the
// previous one: silence for three heartbeat intervals (§5.3), a clean end
// (§5.4), or a failure. A heartbeat's checkpoint counts as stored.
func TestTheStreamResumesFromTheLastStoredCheckpoint(t *testing.T) {
	server := &scriptedServer{calls: make(chan int, 16)}
	server.script = append(server.script,
		func(ctx context.Context, stream *connect.ServerStream[syncv1.SubscribeResponse]) error {
			if err := stream.Send(batch(position(1), change("a", `{"v":1}`, "1-a", 1, earlier))); err != nil {
				return err
			}
			<-ctx.Done() // then silence, without heartbeats: a dead connection
			return nil
		},
		func(ctx context.Context, stream *connect.ServerStream[syncv1.SubscribeResponse]) error {
			return stream.Send(&syncv1.SubscribeResponse{Event: &syncv1.SubscribeResponse_Heartbeat{Heartbeat: &syncv1.Heartbeat{Checkpoint: position(2)}}})
			// and the server ends the stream cleanly
		},
		func(ctx context.Context, stream *connect.ServerStream[syncv1.SubscribeResponse]) error {
			return connect.NewError(connect.CodeUnavailable, nil) // the server is going away
		},
		func(ctx context.Context, stream *connect.ServerStream[syncv1.SubscribeResponse]) error {
			if err := stream.Send(batch(position(3), change("b", `{"v":1}`, "1-b", 3, earlier))); err != nil {
				return err
			}
			<-ctx.Done()
			return nil
		},
	)
	srv := serve(server)
	defer srv.Close()

	r, err := Open(Config{
		ServerURL: srv.URL, Token: "T", Collections: []string{"todos"}, File: filepath.Join(t.TempDir(), "replica.json"),
		Subscribe: true, HeartbeatInterval: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := 0; i <= 3; i++ {
		waitFor(t, server.calls, "a subscription")
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(r.Read("todos", "b")) == 0 || !r.Status().Subscribed {
		if time.Now().After(deadline) {
			t.Fatalf("document b never arrived on the fourth stream: %+v", r.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.Close()

	server.mu.Lock()
	defer server.mu.Unlock()
	want := []*syncv1.Checkpoint{{}, position(1), position(2), position(2)}
	for i, w := range want {
		got := server.requests[i].GetCheckpoint()
		if got == nil {
			got = &syncv1.Checkpoint{}
		}
		if !proto.Equal(got, w) {
			t.Errorf("subscription %d sent checkpoint %v, want %v", i, got, w)
		}
		if server.tokens[i] != "Bearer T" {
			t.Errorf("subscription %d sent authorization %q", i, server.tokens[i])
		}
		if server.requests[i].GetHeartbeatIntervalMs() != 50 {
			t.Errorf("subscription %d asked for heartbeats every %d ms", i, server.requests[i].GetHeartbeatIntervalMs())
		}
	}
	if n := len(server.requests); n != 4 {
		t.Errorf("%d subscriptions, want 4 (the replica kept subscribing after Close?)", n)
	}
	if got := r.Read("todos", "a"); len(got) != 1 || got[0].Revision != "1-a" {
		t.Errorf("document a: %+v", got)
	}
}

// Offline means no calls at all: SetOnline(false) returns only once the
// stream is closed, and nothing subscribes until SetOnline(true).
func TestGoingOfflineClosesTheStream(t *testing.T) {
	server := &scriptedServer{calls: make(chan int, 16)}
	srv := serve(server)
	defer srv.Close()

	r, err := Open(Config{ServerURL: srv.URL, Collections: []string{"todos"}, File: filepath.Join(t.TempDir(), "replica.json"), Subscribe: true, Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Sync(context.Background()); connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("Sync while offline: %v, want unavailable", err)
	}
	r.SetOnline(true)
	waitFor(t, server.calls, "a subscription once online")
	r.SetOnline(false)
	select {
	case n := <-server.calls:
		t.Fatalf("subscription %d while offline", n)
	case <-time.After(300 * time.Millisecond):
	}
	if r.Status().Subscribed {
		t.Fatal("still reported subscribed while offline")
	}
}

package pocketsync

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"

	syncv1 "github.com/pocket-sync/pocket-sync/gen/go/pocket/sync/v1"
	"github.com/pocket-sync/pocket-sync/gen/go/pocket/sync/v1/syncv1connect"
)

// pullServer answers each Pull with the function the test sets.
type pullServer struct {
	syncv1connect.UnimplementedSyncServiceHandler
	mu     sync.Mutex
	answer func(req *syncv1.PullRequest) (*syncv1.PullResponse, error)
}

func (s *pullServer) Pull(_ context.Context, req *connect.Request[syncv1.PullRequest]) (*connect.Response[syncv1.PullResponse], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out, err := s.answer(req.Msg)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(out), nil
}

func (s *pullServer) set(answer func(req *syncv1.PullRequest) (*syncv1.PullResponse, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = answer
}

func resyncRequired(collections string) error {
	err := connect.NewError(connect.CodeFailedPrecondition, errors.New("resync required"))
	detail, _ := connect.NewErrorDetail(&errdetails.ErrorInfo{Domain: errorDomain, Reason: reasonResyncRequired, Metadata: map[string]string{"collections": collections}})
	err.AddDetail(detail)
	return err
}

func openAgainst(t *testing.T, url string) *Replica {
	t.Helper()
	r, err := Open(Config{ServerURL: url, Collections: []string{"todos"}, File: filepath.Join(t.TempDir(), "replica.json")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func TestAPageWithHasMoreButNoCheckpointStopsThePull(t *testing.T) {
	server := &pullServer{}
	server.set(func(*syncv1.PullRequest) (*syncv1.PullResponse, error) {
		return &syncv1.PullResponse{HasMore: true}, nil
	})
	srv := serve(server)
	defer srv.Close()
	r := openAgainst(t, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := r.Sync(ctx); !errors.Is(err, errNoCheckpoint) {
		t.Fatalf("Sync: %v, want errNoCheckpoint (and not a pull from the beginning for ever)", err)
	}
}

// A resync (§8.4) pulls the named collections from the beginning and only
// then drops what did not come back; a resync cut short stores nothing, so
// the next sync resyncs again instead of keeping a purged document.
func TestAResyncCutShortResyncsAgain(t *testing.T) {
	server := &pullServer{}
	old := position(5)
	server.set(func(*syncv1.PullRequest) (*syncv1.PullResponse, error) {
		return &syncv1.PullResponse{Changes: []*syncv1.ChangeEvent{
			change("keep", `{"v":1}`, "1-k", 1, earlier), change("purged", `{"v":1}`, "1-p", 2, earlier),
		}, Checkpoint: old}, nil
	})
	srv := serve(server)
	defer srv.Close()
	r := openAgainst(t, srv.URL)
	if _, err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Write("todos", "pending", `{"local":true}`); err != nil {
		t.Fatal(err)
	}

	var cutShort bool
	fromTheBeginning := func(req *syncv1.PullRequest) (*syncv1.PullResponse, error) {
		if _, resumed := req.GetCheckpoint().GetCollections()["todos"]; resumed && proto.Equal(req.GetCheckpoint(), old) {
			return nil, resyncRequired("todos")
		}
		switch req.GetCheckpoint().GetCollections()["todos"] {
		case 0: // page 1 of the resync
			return &syncv1.PullResponse{Changes: []*syncv1.ChangeEvent{change("keep", `{"v":1}`, "1-k", 1, earlier)}, Checkpoint: position(1), HasMore: true}, nil
		default: // page 2
			if cutShort {
				return nil, connect.NewError(connect.CodePermissionDenied, errors.New("not now"))
			}
			return &syncv1.PullResponse{Changes: []*syncv1.ChangeEvent{change("new", `{"v":1}`, "1-n", 7, earlier)}, Checkpoint: position(7)}, nil
		}
	}
	cutShort = true
	server.set(fromTheBeginning)
	if _, err := r.pull(context.Background()); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("the cut-short resync: %v", err)
	}
	if !proto.Equal(r.Status().Checkpoint, old) {
		t.Fatalf("a cut-short resync stored checkpoint %v", r.Status().Checkpoint)
	}
	if len(r.Read("todos", "purged")) == 0 {
		t.Fatal("a cut-short resync already dropped a document")
	}

	cutShort = false
	server.set(fromTheBeginning)
	if _, err := r.pull(context.Background()); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range r.Read("todos", "") {
		ids = append(ids, d.ID)
	}
	if want := []string{"keep", "new", "pending"}; !equalStrings(ids, want) {
		t.Fatalf("after the resync: %v, want %v (the purged document gone, the pending one kept)", ids, want)
	}
	if !proto.Equal(r.Status().Checkpoint, position(7)) {
		t.Fatalf("after the resync the checkpoint is %v", r.Status().Checkpoint)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

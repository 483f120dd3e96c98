// Command go-client is a small Pocket Sync client in Go, on the generated
// stubs (gen/go) and connect-go. It keeps a replica of some collections in one
// local JSON file, pushes local changes, pulls everyone's changes, and speaks
// the conformance control protocol (proto/pocket/conformance/v1) on stdin and
// stdout, so `pocket-conformance client -- go run ./examples/go-client` can
// judge it.
//
//	go run ./examples/go-client                  # control protocol on stdin/stdout
//	go run ./examples/go-client sync -url http://127.0.0.1:8080 -token T -collection todos -file todos.json
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"

	"google.golang.org/protobuf/proto"

	conformancev1 "github.com/pocket-sync/pocket-sync/gen/go/pocket/conformance/v1"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("go-client: ")
	if len(os.Args) > 1 && os.Args[1] == "sync" {
		syncOnce(os.Args[2:])
		return
	}
	bug := flag.String("bug", "", "break the client on purpose (the conformance suite's own tests only)")
	flag.Parse()
	deliberateBug = *bug
	if err := serveControl(os.Stdin, os.Stdout); err != nil && !errors.Is(err, io.EOF) {
		log.Fatal(err)
	}
}

// syncOnce syncs one collection to a local JSON file and exits.
func syncOnce(args []string) {
	fs := flag.NewFlagSet("sync", flag.ExitOnError)
	url := fs.String("url", "http://127.0.0.1:8080", "server base URL")
	token := fs.String("token", "", "bearer token")
	collection := fs.String("collection", "todos", "collection to sync")
	file := fs.String("file", "pocket-replica.json", "local JSON file")
	_ = fs.Parse(args)
	r, err := Open(Config{ServerURL: *url, Token: *token, Collections: []string{*collection}, File: *file})
	if err != nil {
		log.Fatal(err)
	}
	res, err := r.Sync(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("pushed %d, pulled %d, conflicts %d; %d documents in %s\n", res.Pushed, res.Pulled, res.Conflicts, len(r.Read(*collection, "")), *file)
}

var deliberateBug string

// serveControl answers ClientRequests until stdin closes or Shutdown.
func serveControl(in io.Reader, out io.Writer) error {
	reader := bufio.NewReader(in)
	writer := bufio.NewWriter(out)
	var replica *Replica
	for {
		var size [4]byte
		if _, err := io.ReadFull(reader, size[:]); err != nil {
			return err
		}
		body := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(reader, body); err != nil {
			return err
		}
		req := &conformancev1.ClientRequest{}
		if err := proto.Unmarshal(body, req); err != nil {
			return fmt.Errorf("bad frame: %w", err)
		}
		res, stop := handle(req, &replica)
		res.RequestId = req.GetRequestId()
		bytes, err := proto.Marshal(res)
		if err != nil {
			return err
		}
		binary.BigEndian.PutUint32(size[:], uint32(len(bytes)))
		if _, err := writer.Write(size[:]); err != nil {
			return err
		}
		if _, err := writer.Write(bytes); err != nil {
			return err
		}
		if err := writer.Flush(); err != nil {
			return err
		}
		if stop {
			return nil
		}
	}
}

func failure(code string, err error) *conformancev1.ClientResponse {
	return &conformancev1.ClientResponse{Result: &conformancev1.ClientResponse_Error{Error: &conformancev1.Error{Code: code, Message: err.Error()}}}
}

func handle(req *conformancev1.ClientRequest, replica **Replica) (*conformancev1.ClientResponse, bool) {
	if c := req.GetConfigure(); c != nil {
		switch c.GetConflictStrategy() {
		case conformancev1.ConflictStrategy_CONFLICT_STRATEGY_UNSPECIFIED,
			conformancev1.ConflictStrategy_CONFLICT_STRATEGY_LOCAL_WINS,
			conformancev1.ConflictStrategy_CONFLICT_STRATEGY_REMOTE_WINS:
		default:
			return failure("unimplemented", fmt.Errorf("conflict strategy %v", c.GetConflictStrategy())), false
		}
		if c.GetSyncMode() == conformancev1.SyncMode_SYNC_MODE_SUBSCRIBE {
			return failure("unimplemented", errors.New("this client only pulls")), false
		}
		r, err := Open(Config{
			ServerURL:   c.GetServerUrl(),
			Token:       c.GetToken(),
			Collections: c.GetCollections(),
			File:        c.GetDataDir() + "/replica.json",
			ClientID:    c.GetClientId(),
			LocalWins:   c.GetConflictStrategy() == conformancev1.ConflictStrategy_CONFLICT_STRATEGY_LOCAL_WINS,
			Offline:     c.GetStartOffline(),
			Bug:         deliberateBug,
		})
		if err != nil {
			return failure("internal", err), false
		}
		*replica = r
		return &conformancev1.ClientResponse{Result: &conformancev1.ClientResponse_Configure{Configure: &conformancev1.ConfigureResult{
			Implementation: "pocket-go-example 0.1",
			ClientId:       r.ClientID(),
			Suites:         []string{"push", "pull", "resume", "retry", "conflict-report", "conflict-resolved", "offline", "tombstones", "convergence"},
			ConflictStrategies: []conformancev1.ConflictStrategy{
				conformancev1.ConflictStrategy_CONFLICT_STRATEGY_LOCAL_WINS,
				conformancev1.ConflictStrategy_CONFLICT_STRATEGY_REMOTE_WINS,
			},
			SyncModes: []conformancev1.SyncMode{conformancev1.SyncMode_SYNC_MODE_PULL},
		}}}, false
	}
	r := *replica
	if r == nil {
		if req.GetShutdown() != nil {
			return &conformancev1.ClientResponse{Result: &conformancev1.ClientResponse_Shutdown{Shutdown: &conformancev1.ShutdownResult{}}}, true
		}
		return failure("failed_precondition", errors.New("configure first")), false
	}
	switch cmd := req.GetCommand().(type) {
	case *conformancev1.ClientRequest_WriteDocument:
		if err := r.Write(cmd.WriteDocument.GetCollection(), cmd.WriteDocument.GetDocumentId(), cmd.WriteDocument.GetDocument()); err != nil {
			return failure("invalid_argument", err), false
		}
		return &conformancev1.ClientResponse{Result: &conformancev1.ClientResponse_WriteDocument{WriteDocument: &conformancev1.WriteDocumentResult{}}}, false
	case *conformancev1.ClientRequest_DeleteDocument:
		if err := r.Delete(cmd.DeleteDocument.GetCollection(), cmd.DeleteDocument.GetDocumentId()); err != nil {
			return failure("internal", err), false
		}
		return &conformancev1.ClientResponse{Result: &conformancev1.ClientResponse_DeleteDocument{DeleteDocument: &conformancev1.DeleteDocumentResult{}}}, false
	case *conformancev1.ClientRequest_ReadDocuments:
		var docs []*conformancev1.Document
		for _, d := range r.Read(cmd.ReadDocuments.GetCollection(), cmd.ReadDocuments.GetDocumentId()) {
			docs = append(docs, &conformancev1.Document{
				Collection: d.Collection, DocumentId: d.ID, Document: d.Document,
				Revision: d.Revision, Deleted: d.Deleted, Pending: d.Pending,
			})
		}
		return &conformancev1.ClientResponse{Result: &conformancev1.ClientResponse_ReadDocuments{ReadDocuments: &conformancev1.ReadDocumentsResult{Documents: docs}}}, false
	case *conformancev1.ClientRequest_SyncNow:
		res, err := r.Sync(context.Background())
		if err != nil {
			return failure(errorCode(err), err), false
		}
		return &conformancev1.ClientResponse{Result: &conformancev1.ClientResponse_SyncNow{SyncNow: &conformancev1.SyncNowResult{
			Pushed: uint32(res.Pushed), Pulled: uint32(res.Pulled), Conflicts: uint32(res.Conflicts),
		}}}, false
	case *conformancev1.ClientRequest_SetOnline:
		r.SetOnline(cmd.SetOnline.GetOnline())
		return &conformancev1.ClientResponse{Result: &conformancev1.ClientResponse_SetOnline{SetOnline: &conformancev1.SetOnlineResult{}}}, false
	case *conformancev1.ClientRequest_GetStatus:
		s := r.Status()
		return &conformancev1.ClientResponse{Result: &conformancev1.ClientResponse_GetStatus{GetStatus: &conformancev1.GetStatusResult{
			ClientId: s.ClientID, Online: s.Online, PendingChanges: uint32(s.Pending), Checkpoint: s.Checkpoint, LastError: s.LastError,
		}}}, false
	case *conformancev1.ClientRequest_Shutdown:
		return &conformancev1.ClientResponse{Result: &conformancev1.ClientResponse_Shutdown{Shutdown: &conformancev1.ShutdownResult{}}}, true
	default:
		return failure("unimplemented", fmt.Errorf("unknown command %T", cmd)), false
	}
}

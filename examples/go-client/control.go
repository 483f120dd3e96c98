package main

// The conformance control protocol (proto/pocket/conformance/v1/control.proto):
// 4-byte big-endian length + binary ClientRequest frames on stdin, one
// ClientResponse frame per request on stdout. Commands run one at a time, in
// order; the replica's stream runs beside them.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/pocket-sync/pocket-sync/examples/go-client/pocketsync"
	conformancev1 "github.com/pocket-sync/pocket-sync/gen/go/pocket/conformance/v1"
)

const implementation = "pocket-go-example 0.2"

// suites are the client suites this client claims: every one but "filters"
// (PROTOCOL §4.10), which it does not implement, so those cases skip for it.
var suites = []string{"push", "pull", "resume", "retry", "conflict-report", "conflict-resolved", "offline", "tombstones", "subscribe", "convergence", "every-collection"}

var strategies = map[conformancev1.ConflictStrategy]pocketsync.Strategy{
	conformancev1.ConflictStrategy_CONFLICT_STRATEGY_UNSPECIFIED:     pocketsync.LastWriteWins,
	conformancev1.ConflictStrategy_CONFLICT_STRATEGY_LAST_WRITE_WINS: pocketsync.LastWriteWins,
	conformancev1.ConflictStrategy_CONFLICT_STRATEGY_LOCAL_WINS:      pocketsync.LocalWins,
	conformancev1.ConflictStrategy_CONFLICT_STRATEGY_REMOTE_WINS:     pocketsync.RemoteWins,
	conformancev1.ConflictStrategy_CONFLICT_STRATEGY_MERGE:           pocketsync.Merge,
}

// heartbeatInterval is asked of the server: short enough that a dead stream
// is noticed (after three silent intervals) within a case's patience.
const heartbeatInterval = 5 * time.Second

// maxFrame bounds a request frame; the largest command is a document (1 MiB, §14).
const maxFrame = 16 << 20

// serveControl answers ClientRequests until stdin closes or Shutdown.
func serveControl(in io.Reader, out io.Writer, bug pocketsync.Bug) error {
	reader := bufio.NewReader(in)
	writer := bufio.NewWriter(out)
	c := &controller{bug: bug}
	defer c.close()
	for {
		req := &conformancev1.ClientRequest{}
		if err := readFrame(reader, req); err != nil {
			return err
		}
		res, stop := c.handle(req)
		res.RequestId = req.GetRequestId()
		if err := writeFrame(writer, res); err != nil {
			return err
		}
		if stop {
			return nil
		}
	}
}

func readFrame(r io.Reader, m proto.Message) error {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > maxFrame {
		return fmt.Errorf("frame of %d bytes exceeds %d", n, maxFrame)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return err
	}
	if err := proto.Unmarshal(body, m); err != nil {
		return fmt.Errorf("bad frame: %w", err)
	}
	return nil
}

func writeFrame(w *bufio.Writer, m proto.Message) error {
	body, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	var size [4]byte
	binary.BigEndian.PutUint32(size[:], uint32(len(body)))
	if _, err := w.Write(size[:]); err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	return w.Flush()
}

type controller struct {
	bug     pocketsync.Bug
	replica *pocketsync.Replica
}

func (c *controller) close() {
	if c.replica != nil {
		c.replica.Close()
	}
}

func failure(code connect.Code, err error) *conformancev1.ClientResponse {
	return &conformancev1.ClientResponse{Result: &conformancev1.ClientResponse_Error{Error: &conformancev1.Error{Code: code.String(), Message: err.Error()}}}
}

func (c *controller) handle(req *conformancev1.ClientRequest) (*conformancev1.ClientResponse, bool) {
	if cfg := req.GetConfigure(); cfg != nil {
		return c.configure(cfg), false
	}
	if req.GetShutdown() != nil {
		c.close()
		c.replica = nil
		return &conformancev1.ClientResponse{Result: &conformancev1.ClientResponse_Shutdown{Shutdown: &conformancev1.ShutdownResult{}}}, true
	}
	r := c.replica
	if r == nil {
		return failure(connect.CodeFailedPrecondition, errors.New("configure first")), false
	}
	switch cmd := req.GetCommand().(type) {
	case *conformancev1.ClientRequest_WriteDocument:
		w := cmd.WriteDocument
		if err := r.Write(w.GetCollection(), w.GetDocumentId(), w.GetDocument()); err != nil {
			return failure(connect.CodeInvalidArgument, err), false
		}
		return &conformancev1.ClientResponse{Result: &conformancev1.ClientResponse_WriteDocument{WriteDocument: &conformancev1.WriteDocumentResult{}}}, false
	case *conformancev1.ClientRequest_DeleteDocument:
		if err := r.Delete(cmd.DeleteDocument.GetCollection(), cmd.DeleteDocument.GetDocumentId()); err != nil {
			return failure(connect.CodeInternal, err), false
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
			return failure(connect.CodeOf(err), err), false
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
			ClientId: s.ClientID, Online: s.Online, PendingChanges: uint32(s.Pending), Checkpoint: s.Checkpoint,
			Subscribed: s.Subscribed, LastError: s.LastError,
		}}}, false
	case *conformancev1.ClientRequest_Crash:
		if cmd.Crash.GetPoint() != conformancev1.CrashPoint_CRASH_POINT_AFTER_FIRST_WRITE_OF_PAGE {
			return failure(connect.CodeUnimplemented, fmt.Errorf("crash point %v", cmd.Crash.GetPoint())), false
		}
		// Exit at once, as under kill -9: nothing deferred runs, nothing more is saved.
		r.CrashAfterPageWrite(func() { os.Exit(137) })
		return &conformancev1.ClientResponse{Result: &conformancev1.ClientResponse_Crash{Crash: &conformancev1.CrashResult{}}}, false
	default:
		return failure(connect.CodeUnimplemented, fmt.Errorf("unknown command %T", cmd)), false
	}
}

func (c *controller) configure(cfg *conformancev1.Configure) *conformancev1.ClientResponse {
	if c.replica != nil {
		return failure(connect.CodeFailedPrecondition, errors.New("already configured"))
	}
	strategy, ok := strategies[cfg.GetConflictStrategy()]
	if !ok {
		return failure(connect.CodeUnimplemented, fmt.Errorf("conflict strategy %v", cfg.GetConflictStrategy()))
	}
	var subscribe bool
	switch cfg.GetSyncMode() {
	case conformancev1.SyncMode_SYNC_MODE_UNSPECIFIED, conformancev1.SyncMode_SYNC_MODE_PULL:
	case conformancev1.SyncMode_SYNC_MODE_SUBSCRIBE:
		subscribe = true
	default:
		return failure(connect.CodeUnimplemented, fmt.Errorf("sync mode %v", cfg.GetSyncMode()))
	}
	if cfg.GetDataDir() == "" {
		return failure(connect.CodeInvalidArgument, errors.New("configure needs a data_dir"))
	}
	r, err := pocketsync.Open(pocketsync.Config{
		ServerURL:         cfg.GetServerUrl(),
		Token:             cfg.GetToken(),
		Collections:       cfg.GetCollections(),
		File:              filepath.Join(cfg.GetDataDir(), "replica.json"),
		ClientID:          cfg.GetClientId(),
		Strategy:          strategy,
		Offline:           cfg.GetStartOffline(),
		Subscribe:         subscribe,
		HeartbeatInterval: heartbeatInterval,
		Bug:               c.bug,
	})
	if err != nil {
		return failure(connect.CodeInternal, err)
	}
	c.replica = r
	return &conformancev1.ClientResponse{Result: &conformancev1.ClientResponse_Configure{Configure: &conformancev1.ConfigureResult{
		Implementation: implementation,
		ClientId:       r.ClientID(),
		Suites:         suites,
		ConflictStrategies: []conformancev1.ConflictStrategy{
			conformancev1.ConflictStrategy_CONFLICT_STRATEGY_LOCAL_WINS,
			conformancev1.ConflictStrategy_CONFLICT_STRATEGY_REMOTE_WINS,
			conformancev1.ConflictStrategy_CONFLICT_STRATEGY_LAST_WRITE_WINS,
			conformancev1.ConflictStrategy_CONFLICT_STRATEGY_MERGE,
		},
		SyncModes: []conformancev1.SyncMode{conformancev1.SyncMode_SYNC_MODE_PULL, conformancev1.SyncMode_SYNC_MODE_SUBSCRIBE},
	}}}
}

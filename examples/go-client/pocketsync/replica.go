// Package pocketsync is a small Pocket Sync client (docs/PROTOCOL.md) on the
// generated stubs (gen/go) and connect-go: a local replica of some
// collections in one JSON file, an outbox of local writes pushed with stable
// client sequences, pulls and a live Subscribe stream that resume from the
// stored checkpoint, client-side conflict strategies (last-write-wins on a
// hybrid logical clock, local-wins, remote-wins, field-level merge) and
// resync after purged tombstones.
package pocketsync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	syncv1 "github.com/pocket-sync/pocket-sync/gen/go/pocket/sync/v1"
	"github.com/pocket-sync/pocket-sync/gen/go/pocket/sync/v1/syncv1connect"
)

// Config says where and what to sync.
type Config struct {
	ServerURL   string
	Token       string
	// Collections to sync; empty syncs every collection the token may read,
	// including collections created later (PROTOCOL §4.8).
	Collections []string
	// File is the local JSON file holding the replica.
	File string
	// ClientID is used for a new replica; an existing file keeps its own.
	// Empty picks a random 128-bit id.
	ClientID string
	// Strategy settles the conflicts the server reports (default last-write-wins).
	Strategy Strategy
	// Offline starts without network; SetOnline(true) connects.
	Offline bool
	// Subscribe keeps a Subscribe stream open while online, so that other
	// users' changes arrive without Sync (PROTOCOL §5).
	Subscribe bool
	// HeartbeatInterval is asked of the server for the stream; three
	// intervals without a message count as a dead stream (§5.3). Default
	// 10 s, at most 300 s (§14).
	HeartbeatInterval time.Duration
	// HTTPClient carries the calls; nil uses a client without a global
	// timeout (the stream is long-lived; each unary call has its own).
	HTTPClient connect.HTTPClient
	// Logf reports background events (the stream's reconnects); nil is silent.
	Logf func(format string, args ...any)
	// Bug breaks the client on purpose, for the conformance suite's own
	// tests that prove each client suite can fail. Empty in real use.
	Bug Bug
}

// Bug is a deliberate fault (Config.Bug).
type Bug string

// The deliberate faults, each a plausible implementation mistake.
const (
	BugNone              Bug = ""
	BugResequence        Bug = "resequence"          // a retry gets new client sequences (§9.1)
	BugStaleBase         Bug = "stale-base"          // changes are pushed without their base revision (§6.2)
	BugNoCheckpoint      Bug = "no-checkpoint"       // checkpoints are never stored (§9.4)
	BugEcho              Bug = "echo"                // pulled changes are pushed back (§9.3)
	BugIgnoreConflicts   Bug = "ignore-conflicts"    // a Conflict drops the local change unsettled (§7.1)
	BugIgnoreResolved    Bug = "ignore-resolved"     // Resolved.current is not adopted (§7.2)
	BugIgnoreRemoteClock Bug = "ignore-remote-clock" // the clock never observes remote timestamps (§10.2)
	BugAlwaysLocal       Bug = "always-local"        // last-write-wins and merge take the local write as the later (§10.1)
	BugTwoWayMerge       Bug = "two-way-merge"       // merge ignores the known base (§7)
	BugNoReconnect       Bug = "no-reconnect"        // an ended stream is not reopened (§5.4)
	BugSyncOffline       Bug = "sync-offline"        // Sync calls the server while offline (§1)
	BugCheckpointFirst   Bug = "checkpoint-first"    // a page's checkpoint is saved before its changes (§9.4)
	BugEmptyPages        Bug = "skip-empty-pages"    // the checkpoint of a page without changes is not stored (§9.4)
	BugHeartbeats        Bug = "ignore-heartbeats"   // heartbeat checkpoints are not stored (§5.3)
	BugRebasePending     Bug = "rebase-pending"      // a pulled change moves a pending change's base revision (§9.5)
	BugGiveUp            Bug = "give-up"             // changes are dropped after three failed push attempts in a row (§9.1)
	BugResyncFirstPage   Bug = "resync-first-page"   // a resync counts only its first page as come back (§8.4)
	BugLastWriteWinsAll  Bug = "lww-for-all"         // every conflict strategy settles by last-write-wins (§7.1)
)

// Bugs lists every deliberate fault.
var Bugs = []Bug{BugResequence, BugStaleBase, BugNoCheckpoint, BugEcho, BugIgnoreConflicts, BugIgnoreResolved,
	BugIgnoreRemoteClock, BugAlwaysLocal, BugTwoWayMerge, BugNoReconnect, BugSyncOffline,
	BugCheckpointFirst, BugEmptyPages, BugHeartbeats, BugRebasePending, BugGiveUp, BugResyncFirstPage, BugLastWriteWinsAll}

// maxHeartbeatInterval is the longest interval a request may ask for (§14).
const maxHeartbeatInterval = 300 * time.Second

// Replica is a local replica synced with a Pocket Sync server. Its methods
// are safe for concurrent use; network calls run without holding its lock.
type Replica struct {
	cfg    Config
	client syncv1connect.SyncServiceClient

	mu         sync.Mutex // guards everything below
	store      *store
	online     bool
	session    context.Context // ends when the replica goes offline or closes
	endSession context.CancelFunc
	stream     *streamRunner
	subscribed bool
	lastError  string

	pulling sync.Mutex // one pull or resync at a time

	// crash, when set, is called right after the first save of a received
	// page (CrashAfterPageWrite).
	crash func()
	// failedPushes counts push attempts failed in a row (the give-up bug).
	failedPushes int
}

// CrashAfterPageWrite arms crash, for the conformance suite's crash tests:
// it is called right after the first save of the next page (or stream
// batch) the replica stores, and is expected not to return.
func (r *Replica) CrashAfterPageWrite(crash func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.crash = crash
}

// savedPage is called after each save of a received page's changes or checkpoint.
func (r *Replica) savedPage() {
	if r.crash != nil {
		r.crash()
	}
}

// Open loads the replica file or starts a new replica, and connects unless
// cfg.Offline.
func Open(cfg Config) (*Replica, error) {
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 10 * time.Second
	}
	cfg.HeartbeatInterval = min(cfg.HeartbeatInterval, maxHeartbeatInterval)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	known := cfg.Bug == BugNone
	for _, b := range Bugs {
		known = known || b == cfg.Bug
	}
	if !known {
		return nil, fmt.Errorf("pocketsync: unknown bug %q", cfg.Bug)
	}
	if cfg.Bug == BugLastWriteWinsAll {
		cfg.Strategy = LastWriteWins
	}
	s, err := openStore(cfg.File, cfg.ClientID)
	if err != nil {
		return nil, err
	}
	s.ignoreRemoteClock = cfg.Bug == BugIgnoreRemoteClock
	s.echo = cfg.Bug == BugEcho
	s.rebasePending = cfg.Bug == BugRebasePending
	r := &Replica{
		cfg:   cfg,
		store: s,
		client: syncv1connect.NewSyncServiceClient(cfg.HTTPClient, strings.TrimRight(cfg.ServerURL, "/"),
			connect.WithInterceptors(bearer(cfg.Token))),
	}
	r.session, r.endSession = context.WithCancel(context.Background())
	r.endSession() // offline until SetOnline
	if !cfg.Offline {
		r.SetOnline(true)
	}
	return r, nil
}

// ClientID is the replica's stable client id (§9.1).
func (r *Replica) ClientID() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.store.st.ClientID
}

// Write stores a document (a JSON object) locally and queues it for the next
// push. Reserved top-level keys are dropped (§3.3).
func (r *Replica) Write(collection, id, document string) error {
	text, err := stripReserved(document)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.store.write(collection, id, text)
	return r.store.save()
}

// Delete deletes a document locally and queues the tombstone.
func (r *Replica) Delete(collection, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.store.delete(collection, id)
	return r.store.save()
}

// Document is a document as the replica holds it.
type Document struct {
	Collection string
	ID         string
	// Document is the JSON text; empty when deleted.
	Document string
	// Revision is the server revision the local state stands on; empty if none.
	Revision string
	Deleted  bool
	// Pending is true while a local change waits in the outbox.
	Pending bool
}

// Read returns one document (tombstones included), or every live document of
// a collection when id is empty.
func (r *Replica) Read(collection, id string) []Document {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Document
	for _, d := range r.store.st.Docs {
		if d.Collection != collection || (id != "" && d.ID != id) || (id == "" && d.Deleted) {
			continue
		}
		out = append(out, Document{Collection: d.Collection, ID: d.ID, Document: d.Document, Revision: d.Revision(), Deleted: d.Deleted, Pending: d.Pending != nil})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// SetOnline switches the network on or off. Offline, the replica makes no
// calls at all: the stream is closed and waited for, and calls in flight are
// cancelled.
func (r *Replica) SetOnline(online bool) {
	r.mu.Lock()
	if online == r.online {
		r.mu.Unlock()
		return
	}
	r.online = online
	var stopping *streamRunner
	if online {
		r.session, r.endSession = context.WithCancel(context.Background())
		if r.cfg.Subscribe {
			r.stream = r.startStream(r.session)
		}
	} else {
		r.endSession()
		stopping, r.stream = r.stream, nil
	}
	r.mu.Unlock()
	stopping.wait() // outside the lock: the stream takes it to apply changes
}

// Status is the replica's sync state.
type Status struct {
	ClientID string
	Online   bool
	// Subscribed is true while a stream is open and caught up.
	Subscribed bool
	Pending    int
	// Checkpoint is the last stored checkpoint.
	Checkpoint *syncv1.Checkpoint
	LastError  string
}

func (r *Replica) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Status{
		ClientID: r.store.st.ClientID, Online: r.online, Subscribed: r.subscribed,
		Pending: r.store.pendingCount(), Checkpoint: r.checkpointLocked(), LastError: r.lastError,
	}
}

// checkpointLocked decodes the stored checkpoint; the empty one if none.
func (r *Replica) checkpointLocked() *syncv1.Checkpoint {
	cp := &syncv1.Checkpoint{}
	if err := proto.Unmarshal(r.store.st.Checkpoint, cp); err != nil {
		return &syncv1.Checkpoint{} // unreadable: start from the beginning
	}
	return cp
}

func (r *Replica) storedCheckpoint() *syncv1.Checkpoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.checkpointLocked()
}

// storeCheckpointLocked keeps cp as received (§4.4); the caller saves.
func (r *Replica) storeCheckpointLocked(cp *syncv1.Checkpoint) error {
	if cp == nil || r.cfg.Bug == BugNoCheckpoint {
		return nil
	}
	data, err := proto.Marshal(cp)
	if err != nil {
		return err
	}
	r.store.st.Checkpoint = data
	return nil
}

// applyRemote applies changes and then stores their checkpoint, in one save (§9.4).
func (r *Replica) applyRemote(changes []*syncv1.ChangeEvent, cp *syncv1.Checkpoint) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(changes) == 0 && r.cfg.Bug == BugEmptyPages {
		cp = nil
	}
	if r.cfg.Bug == BugCheckpointFirst {
		if err := r.storeCheckpointLocked(cp); err != nil {
			return 0, err
		}
		if err := r.store.save(); err != nil {
			return 0, err
		}
		r.savedPage()
		cp = nil
	}
	n := r.store.applyRemote(changes, false)
	if err := r.storeCheckpointLocked(cp); err != nil {
		return n, err
	}
	if err := r.store.save(); err != nil {
		return n, err
	}
	r.savedPage()
	return n, nil
}

func (r *Replica) noteError(what string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastError = fmt.Sprintf("%s: %v", what, err)
}

func (r *Replica) logf(format string, args ...any) {
	if r.cfg.Logf != nil {
		r.cfg.Logf(format, args...)
	}
}

// SyncResult says what one Sync did.
type SyncResult struct {
	// Pushed counts changes the server took (Accepted or Resolved).
	Pushed int
	// Pulled counts new changes received by pulling.
	Pulled int
	// Conflicts counts Conflict outcomes settled by the client's strategy.
	Conflicts int
}

// ErrOffline is returned by Sync while the replica is offline.
var ErrOffline = connect.NewError(connect.CodeUnavailable, errors.New("offline"))

// Sync pushes the outbox (settling conflicts), then pulls until caught up.
// Failed calls are retried with backoff, sending the same client sequences;
// what still fails is returned, and the outbox and checkpoint stay as they
// were for the next Sync.
func (r *Replica) Sync(ctx context.Context) (SyncResult, error) {
	r.mu.Lock()
	online, session := r.online, r.session
	r.mu.Unlock()
	if !online && r.cfg.Bug != BugSyncOffline {
		return SyncResult{}, ErrOffline
	}
	if online {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(session, cancel)()
	}
	var res SyncResult
	err := r.push(ctx, &res)
	if err == nil {
		res.Pulled, err = r.pull(ctx)
	}
	if err != nil {
		r.noteError("sync", err)
	}
	return res, err
}

// Close stops the stream and cancels calls in flight. The replica file is
// always saved, so there is nothing to flush.
func (r *Replica) Close() {
	r.SetOnline(false)
}

// bearer sends the token with every call, unary and streaming (§13.1).
type bearer string

func (t bearer) set(h http.Header) {
	if t != "" {
		h.Set("Authorization", "Bearer "+string(t))
	}
}

func (t bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		t.set(req.Header())
		return next(ctx, req)
	}
}

func (t bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		t.set(conn.RequestHeader())
		return conn
	}
}

func (t bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

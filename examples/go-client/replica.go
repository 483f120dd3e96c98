package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	syncv1 "github.com/pocket-sync/pocket-sync/gen/go/pocket/sync/v1"
	"github.com/pocket-sync/pocket-sync/gen/go/pocket/sync/v1/syncv1connect"
)

// Config says where and what to sync.
type Config struct {
	ServerURL   string
	Token       string
	Collections []string
	// File is the local JSON file holding the replica.
	File string
	// ClientID is used for a new replica; an existing file keeps its own.
	ClientID string
	// LocalWins settles Conflict by pushing the local document again;
	// otherwise the server's document is adopted (remote wins).
	LocalWins bool
	Offline   bool
	// Bug deliberately breaks the client, for the conformance suite's own
	// tests (proving each client suite can fail): resequence, stale-base, no-checkpoint,
	// echo, ignore-conflicts, ignore-resolved. Empty in real use.
	Bug string
}

// Doc is one document of the replica.
type Doc struct {
	Collection string `json:"collection"`
	ID         string `json:"id"`
	// Document is the JSON text as received or written; empty when deleted.
	Document string `json:"document,omitempty"`
	// Revision is the server revision last received; empty if never synced.
	Revision string `json:"revision,omitempty"`
	Deleted  bool   `json:"deleted,omitempty"`
	Pending  bool   `json:"-"`
}

// Pending is an outbox entry: the latest local state of one document.
type Pending struct {
	Operation      syncv1.Operation `json:"operation"`
	Document       string           `json:"document,omitempty"`
	BaseRevision   string           `json:"baseRevision,omitempty"`
	ClientSequence uint64           `json:"clientSequence"`
	WallTimeMs     uint64           `json:"wallTimeMs"`
	Logical        uint32           `json:"logical"`
}

// state is what the local JSON file holds. Every change to it is written to a
// temporary file and renamed over the old one, so a crash leaves either the
// old or the new state: the outbox entry always travels with its document
// (PROTOCOL §9.2) and the checkpoint with the changes it covers (§9.4).
type state struct {
	ClientID     string             `json:"clientId"`
	NextSequence uint64             `json:"nextSequence"`
	ClockWall    uint64             `json:"clockWall"`
	ClockLogical uint32             `json:"clockLogical"`
	Checkpoint   json.RawMessage    `json:"checkpoint,omitempty"`
	Docs         map[string]*Doc    `json:"docs"`
	Outbox       map[string]Pending `json:"outbox"`
}

// Replica is a local replica synced with a Pocket Sync server.
type Replica struct {
	mu        sync.Mutex
	cfg       Config
	st        state
	client    syncv1connect.SyncServiceClient
	online    bool
	lastError string
}

func key(collection, id string) string { return collection + "/" + id }

// Open loads the replica file or starts a new replica.
func Open(cfg Config) (*Replica, error) {
	r := &Replica{cfg: cfg, online: !cfg.Offline}
	r.client = syncv1connect.NewSyncServiceClient(&http.Client{Timeout: 30 * time.Second}, strings.TrimRight(cfg.ServerURL, "/"),
		connect.WithInterceptors(bearer(cfg.Token)))
	data, err := os.ReadFile(cfg.File)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &r.st); err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.File, err)
		}
	case errors.Is(err, os.ErrNotExist):
		id := cfg.ClientID
		if id == "" {
			var b [16]byte
			if _, err := rand.Read(b[:]); err != nil {
				return nil, err
			}
			id = hex.EncodeToString(b[:])
		}
		r.st = state{ClientID: id, NextSequence: 1}
		if err := os.MkdirAll(filepath.Dir(cfg.File), 0o755); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	if r.st.Docs == nil {
		r.st.Docs = map[string]*Doc{}
	}
	if r.st.Outbox == nil {
		r.st.Outbox = map[string]Pending{}
	}
	return r, r.save()
}

func bearer(token string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if token != "" {
				req.Header().Set("Authorization", "Bearer "+token)
			}
			return next(ctx, req)
		}
	}
}

func (r *Replica) save() error {
	data, err := json.MarshalIndent(&r.st, "", " ")
	if err != nil {
		return err
	}
	tmp := r.cfg.File + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, r.cfg.File)
}

// ClientID is the replica's stable client id.
func (r *Replica) ClientID() string { return r.st.ClientID }

// tick issues a hybrid logical clock timestamp (PROTOCOL §10.2).
func (r *Replica) tick() (uint64, uint32) {
	now := uint64(time.Now().UnixMilli())
	if now > r.st.ClockWall {
		r.st.ClockWall, r.st.ClockLogical = now, 0
	} else {
		r.st.ClockLogical++
	}
	return r.st.ClockWall, r.st.ClockLogical
}

func (r *Replica) observe(ts *syncv1.HybridLogicalClock) {
	if ts == nil {
		return
	}
	if ts.GetWallTimeMs() > r.st.ClockWall || (ts.GetWallTimeMs() == r.st.ClockWall && ts.GetLogical() > r.st.ClockLogical) {
		r.st.ClockWall, r.st.ClockLogical = ts.GetWallTimeMs(), ts.GetLogical()
	}
}

// stripReserved removes the reserved top-level keys (PROTOCOL §3.3), keeping
// the text untouched when there are none.
func stripReserved(text string) (string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &obj); err != nil {
		return "", fmt.Errorf("a document must be a JSON object: %w", err)
	}
	found := false
	for _, k := range []string{"_id", "_rev", "_deleted"} {
		if _, ok := obj[k]; ok {
			delete(obj, k)
			found = true
		}
	}
	if !found {
		return text, nil
	}
	out, err := json.Marshal(obj)
	return string(out), err
}

// Write stores a document locally and queues it for the next push.
func (r *Replica) Write(collection, id, document string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	text, err := stripReserved(document)
	if err != nil {
		return err
	}
	k := key(collection, id)
	doc := r.st.Docs[k]
	if doc == nil {
		doc = &Doc{Collection: collection, ID: id}
		r.st.Docs[k] = doc
	}
	doc.Document, doc.Deleted = text, false
	op := syncv1.Operation_OPERATION_UPDATE
	if doc.Revision == "" {
		op = syncv1.Operation_OPERATION_INSERT
	}
	r.enqueue(k, op, text, doc.Revision)
	return r.save()
}

// Delete deletes a document locally and queues the tombstone.
func (r *Replica) Delete(collection, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := key(collection, id)
	doc := r.st.Docs[k]
	if doc == nil || doc.Deleted {
		return nil
	}
	if doc.Revision == "" {
		// Never reached the server: nothing to tell it.
		delete(r.st.Docs, k)
		delete(r.st.Outbox, k)
		return r.save()
	}
	doc.Document, doc.Deleted = "", true
	r.enqueue(k, syncv1.Operation_OPERATION_DELETE, "", doc.Revision)
	return r.save()
}

// enqueue replaces the document's outbox entry with its latest state and a
// fresh client sequence (PROTOCOL §9.2).
func (r *Replica) enqueue(k string, op syncv1.Operation, document, base string) {
	wall, logical := r.tick()
	seq := r.st.NextSequence
	r.st.NextSequence++
	r.st.Outbox[k] = Pending{Operation: op, Document: document, BaseRevision: base, ClientSequence: seq, WallTimeMs: wall, Logical: logical}
}

// Read returns one document, or every live document of a collection.
func (r *Replica) Read(collection, id string) []Doc {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Doc
	for k, d := range r.st.Docs {
		if d.Collection != collection || (id != "" && d.ID != id) || (id == "" && d.Deleted) {
			continue
		}
		copy := *d
		_, copy.Pending = r.st.Outbox[k]
		out = append(out, copy)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// SetOnline switches the network on or off.
func (r *Replica) SetOnline(online bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.online = online
}

// Status is the replica's sync state.
type Status struct {
	ClientID   string
	Online     bool
	Pending    int
	Checkpoint *syncv1.Checkpoint
	LastError  string
}

func (r *Replica) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Status{ClientID: r.st.ClientID, Online: r.online, Pending: len(r.st.Outbox), Checkpoint: r.checkpoint(), LastError: r.lastError}
}

func (r *Replica) checkpoint() *syncv1.Checkpoint {
	cp := &syncv1.Checkpoint{}
	if len(r.st.Checkpoint) > 0 {
		_ = protojson.Unmarshal(r.st.Checkpoint, cp)
	}
	return cp
}

// storeCheckpoint keeps the checkpoint exactly as received (PROTOCOL §4.4).
func (r *Replica) storeCheckpoint(cp *syncv1.Checkpoint) error {
	data, err := protojson.Marshal(cp)
	if err != nil {
		return err
	}
	r.st.Checkpoint = data
	return nil
}

// SyncResult says what one Sync did.
type SyncResult struct{ Pushed, Pulled, Conflicts int }

// Sync pushes the outbox, then pulls until caught up. Failed calls are retried
// with exponential backoff and jitter, with the same client sequences.
func (r *Replica) Sync(ctx context.Context) (SyncResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var res SyncResult
	if !r.online {
		return res, connect.NewError(connect.CodeUnavailable, errors.New("offline"))
	}
	err := r.retry(ctx, func() error { return r.push(ctx, &res) })
	if err == nil {
		err = r.retry(ctx, func() error { return r.pull(ctx, &res) })
	}
	if err != nil {
		r.lastError = err.Error()
	}
	return res, err
}

func retryable(err error) bool {
	switch connect.CodeOf(err) {
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded, connect.CodeInternal, connect.CodeUnknown, connect.CodeAborted, connect.CodeCanceled:
		return true
	case connect.CodeResourceExhausted:
		return reasonOf(err) != "ERROR_REASON_TOO_LARGE"
	}
	return false
}

func (r *Replica) retry(ctx context.Context, call func() error) error {
	delay := 50 * time.Millisecond
	var err error
	for attempt := 0; attempt < 6; attempt++ {
		if err = call(); err == nil || !retryable(err) {
			return err
		}
		jitter, _ := rand.Int(rand.Reader, big.NewInt(int64(delay)))
		select {
		case <-time.After(delay + time.Duration(jitter.Int64())):
		case <-ctx.Done():
			return ctx.Err()
		}
		delay *= 2
	}
	return err
}

func reasonOf(err error) string {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return ""
	}
	for _, d := range ce.Details() {
		if v, e := d.Value(); e == nil {
			if info, ok := v.(*errdetails.ErrorInfo); ok && info.GetDomain() == "sync.pocket.dev" {
				return info.GetReason()
			}
		}
	}
	return ""
}

func metadataOf(err error) map[string]string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		for _, d := range ce.Details() {
			if v, e := d.Value(); e == nil {
				if info, ok := v.(*errdetails.ErrorInfo); ok {
					return info.GetMetadata()
				}
			}
		}
	}
	return nil
}

// push sends the outbox (oldest first, at most 500 per push) until it is empty
// or only holds changes the server refused.
func (r *Replica) push(ctx context.Context, res *SyncResult) error {
	refused := map[string]bool{}
	for round := 0; round < 10; round++ {
		keys := make([]string, 0, len(r.st.Outbox))
		for k, p := range r.st.Outbox {
			if !refused[k] && len(keys) < 500 {
				_ = p
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			return nil
		}
		sort.Slice(keys, func(i, j int) bool { return r.st.Outbox[keys[i]].ClientSequence < r.st.Outbox[keys[j]].ClientSequence })
		req := &syncv1.PushRequest{ClientId: r.st.ClientID}
		for _, k := range keys {
			p := r.st.Outbox[k]
			if r.cfg.Bug == "stale-base" {
				p.BaseRevision = ""
			}
			if r.cfg.Bug == "resequence" {
				p.ClientSequence = r.st.NextSequence
				r.st.NextSequence++
				r.st.Outbox[k] = p
			}
			d := r.st.Docs[k]
			req.Changes = append(req.Changes, &syncv1.ChangeEvent{
				Operation: p.Operation, Collection: d.Collection, DocumentId: d.ID, Document: p.Document,
				BaseRevision: p.BaseRevision, ClientSequence: p.ClientSequence,
				Timestamp: &syncv1.HybridLogicalClock{WallTimeMs: p.WallTimeMs, Logical: p.Logical},
			})
		}
		out, err := r.client.Push(ctx, connect.NewRequest(req))
		if err != nil {
			return err
		}
		for i, result := range out.Msg.GetResults() {
			if i >= len(keys) {
				break
			}
			k := keys[i]
			sent := req.Changes[i]
			if r.st.Outbox[k].ClientSequence != sent.GetClientSequence() {
				continue // written again meanwhile: the newer write stays pending
			}
			d := r.st.Docs[k]
			switch o := result.GetOutcome().(type) {
			case *syncv1.ChangeResult_Accepted:
				d.Revision = o.Accepted.GetRevision()
				delete(r.st.Outbox, k)
				res.Pushed++
			case *syncv1.ChangeResult_Resolved:
				if r.cfg.Bug != "ignore-resolved" {
					r.adopt(d, o.Resolved.GetCurrent())
				}
				delete(r.st.Outbox, k)
				res.Pushed++
			case *syncv1.ChangeResult_Conflict:
				res.Conflicts++
				current := o.Conflict.GetCurrent()
				if r.cfg.Bug == "ignore-conflicts" {
					delete(r.st.Outbox, k)
				} else if r.cfg.LocalWins {
					// Push the local state again on top of the server's revision (§7.1).
					p := r.st.Outbox[k]
					op := syncv1.Operation_OPERATION_UPDATE
					if p.Operation == syncv1.Operation_OPERATION_DELETE {
						op = p.Operation
					}
					if current.GetRevision() == "" {
						op = syncv1.Operation_OPERATION_INSERT
					}
					r.observe(current.GetTimestamp())
					r.enqueue(k, op, p.Document, current.GetRevision())
				} else {
					r.adopt(d, current)
					delete(r.st.Outbox, k)
				}
			case *syncv1.ChangeResult_Rejected:
				r.lastError = fmt.Sprintf("%s/%s rejected: %s %s", d.Collection, d.ID, o.Rejected.GetReason(), o.Rejected.GetMessage())
				refused[k] = true
			}
		}
		if err := r.save(); err != nil {
			return err
		}
	}
	return nil
}

// adopt replaces the local copy with the server's state, without pushing it.
func (r *Replica) adopt(d *Doc, current *syncv1.ChangeEvent) {
	if current == nil {
		return
	}
	r.observe(current.GetTimestamp())
	d.Revision = current.GetRevision()
	d.Deleted = current.GetDeleted()
	d.Document = current.GetDocument()
	if d.Deleted {
		d.Document = ""
	}
}

// pull reads pages until has_more is false, storing each page's checkpoint in
// the same write as its changes. On resync-required it pulls the named
// collections from the beginning and drops what did not come back (§8.4).
func (r *Replica) pull(ctx context.Context, res *SyncResult) error {
	cp := r.checkpoint()
	var resync map[string]bool
	seen := map[string]bool{}
	for page := 0; ; page++ {
		out, err := r.client.Pull(ctx, connect.NewRequest(&syncv1.PullRequest{Collections: r.cfg.Collections, Checkpoint: cp, ClientId: r.st.ClientID}))
		if err != nil {
			if connect.CodeOf(err) == connect.CodeFailedPrecondition && reasonOf(err) == "ERROR_REASON_RESYNC_REQUIRED" && resync == nil {
				resync = map[string]bool{}
				for _, c := range strings.Split(metadataOf(err)["collections"], ",") {
					if c != "" {
						resync[c] = true
					}
				}
				if len(resync) == 0 {
					for _, c := range r.cfg.Collections {
						resync[c] = true
					}
				}
				cp = proto.Clone(cp).(*syncv1.Checkpoint)
				for c := range resync {
					delete(cp.Collections, c)
				}
				if cp.GetEpoch() != "" {
					cp = &syncv1.Checkpoint{} // another epoch: start over entirely
				}
				continue
			}
			return err
		}
		for _, c := range out.Msg.GetChanges() {
			res.Pulled++
			k := key(c.GetCollection(), c.GetDocumentId())
			seen[k] = true
			r.observe(c.GetTimestamp())
			if _, pending := r.st.Outbox[k]; pending {
				continue // keep the local state and its base revision (§9.5)
			}
			d := r.st.Docs[k]
			if d == nil {
				d = &Doc{Collection: c.GetCollection(), ID: c.GetDocumentId()}
				r.st.Docs[k] = d
			}
			if d.Revision == c.GetRevision() {
				continue // already applied (§9.3)
			}
			r.adopt(d, c)
			if r.cfg.Bug == "echo" && !c.GetDeleted() {
				r.enqueue(k, syncv1.Operation_OPERATION_UPDATE, c.GetDocument(), c.GetRevision())
			}
		}
		if !out.Msg.GetHasMore() && resync != nil {
			for k, d := range r.st.Docs {
				if _, pending := r.st.Outbox[k]; resync[d.Collection] && !seen[k] && !pending {
					delete(r.st.Docs, k)
				}
			}
		}
		cp = out.Msg.GetCheckpoint()
		if r.cfg.Bug != "no-checkpoint" {
			if err := r.storeCheckpoint(cp); err != nil {
				return err
			}
		}
		if err := r.save(); err != nil {
			return err
		}
		if !out.Msg.GetHasMore() {
			return nil
		}
	}
}

func errorCode(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Code().String()
	}
	return "unknown"
}

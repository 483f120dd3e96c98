package pocketsync

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	syncv1 "github.com/pocket-sync/pocket-sync/gen/go/pocket/sync/v1"
)

// The replica lives in one JSON file. Every change to it is written to a
// temporary file, synced and renamed over the old one, so a crash leaves
// either the old or the new state: a local document always travels with its
// outbox entry (PROTOCOL §9.2), and a checkpoint with the changes it covers
// (§9.4). Rewriting the whole file keeps the example short; it suits
// replicas of some thousands of documents.

// stateFormat is the layout version of the replica file.
const stateFormat = 2

// ServerState is a committed state of a document on the server, as received
// (pulled, streamed, or answered to a push). It is replaced, never mutated.
type ServerState struct {
	Revision string `json:"rev,omitempty"`
	// Sequence is the server sequence of the change; 0 when unknown.
	Sequence uint64 `json:"seq,omitempty"`
	// Document is the JSON text; empty for a tombstone.
	Document  string    `json:"doc,omitempty"`
	Deleted   bool      `json:"deleted,omitempty"`
	Timestamp Timestamp `json:"ts"`
	ClientID  string    `json:"by,omitempty"`
}

// serverStateOf reads a change; nil stands for a document the server does not have.
func serverStateOf(c *syncv1.ChangeEvent) *ServerState {
	s := &ServerState{
		Revision:  c.GetRevision(),
		Sequence:  c.GetServerSequence(),
		Deleted:   c == nil || c.GetDeleted(),
		Timestamp: timestampOf(c.GetTimestamp()),
		ClientID:  c.GetClientId(),
	}
	if !s.Deleted {
		s.Document = c.GetDocument()
	}
	return s
}

// newer picks the later of a known server state and a received one: a state
// received late (a push answer overtaken by the stream) must not replace a
// later one, or the replica would go back in time.
func newer(known, received *ServerState) *ServerState {
	if known != nil && known.Sequence > received.Sequence {
		return known
	}
	return received
}

// Pending is a document's outbox entry: its latest local state waits to be
// pushed, with the client sequence and timestamp of its last write (§9.2).
type Pending struct {
	ClientSequence uint64    `json:"seq"`
	Timestamp      Timestamp `json:"ts"`
	// Base is the server state the local change was written on; its revision
	// is the change's base_revision (§6.2) and its document the base of a
	// three-way merge. It stays put while pulls arrive (§9.5). Nil when the
	// server's copy was never seen.
	Base *ServerState `json:"base,omitempty"`
}

// BaseRevision is the base_revision to push.
func (p *Pending) BaseRevision() string {
	if p.Base == nil {
		return ""
	}
	return p.Base.Revision
}

// Doc is one document of the replica.
type Doc struct {
	Collection string `json:"collection"`
	ID         string `json:"id"`
	// Document is the local state as JSON text; empty when deleted.
	Document string `json:"doc,omitempty"`
	Deleted  bool   `json:"deleted,omitempty"`
	// Server is the latest server state received, nil if none.
	Server *ServerState `json:"server,omitempty"`
	// Pending is the outbox entry, nil when the document is in sync.
	Pending *Pending `json:"pending,omitempty"`
}

// Revision is the server revision the local state stands on: the base of a
// pending change, or else the revision last received.
func (d *Doc) Revision() string {
	switch {
	case d.Pending != nil:
		return d.Pending.BaseRevision()
	case d.Server != nil:
		return d.Server.Revision
	}
	return ""
}

func key(collection, id string) string { return collection + "/" + id }

// state is what the replica file holds.
type state struct {
	Format       int    `json:"format"`
	ClientID     string `json:"clientId"`
	NextSequence uint64 `json:"nextSequence"`
	Clock        Clock  `json:"clock"`
	// Checkpoint is the last stored checkpoint, in the binary encoding so
	// that it is sent back exactly as received, unknown fields included (§4.4).
	Checkpoint []byte          `json:"checkpoint,omitempty"`
	Docs       map[string]*Doc `json:"docs"`
}

// store is the replica's state and the rules for changing it. It does no
// locking and no network calls: the Replica serialises access and saves.
type store struct {
	path string
	st   state
	// resyncSeen collects the documents received while a resync runs
	// (§8.4), from pulls and the stream alike; nil otherwise.
	resyncSeen map[string]bool
	// Deliberate bugs (Config.Bug).
	ignoreRemoteClock bool
	echo              bool
	rebasePending     bool
}

// openStore loads the replica file or starts a new replica with clientID
// (random when empty).
func openStore(path, clientID string) (*store, error) {
	s := &store{path: path}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &s.st); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if s.st.Format != stateFormat {
			return nil, fmt.Errorf("%s: replica format %d, this client reads %d", path, s.st.Format, stateFormat)
		}
	case errors.Is(err, os.ErrNotExist):
		if clientID == "" {
			var b [16]byte // a random 128-bit id is unique enough (§9.1)
			if _, err := rand.Read(b[:]); err != nil {
				return nil, err
			}
			clientID = hex.EncodeToString(b[:])
		}
		s.st = state{Format: stateFormat, ClientID: clientID, NextSequence: 1}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	if s.st.Docs == nil {
		s.st.Docs = map[string]*Doc{}
	}
	return s, s.save()
}

// save replaces the replica file atomically.
func (s *store) save() error {
	data, err := json.Marshal(&s.st)
	if err != nil {
		return err
	}
	tmp := s.path + ".tmp"
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
	if err := os.Rename(tmp, s.path); err != nil {
		return err
	}
	// The rename itself survives power loss only once the directory is synced.
	if dir, err := os.Open(filepath.Dir(s.path)); err == nil {
		_ = dir.Sync() // not supported everywhere; the rename is atomic regardless
		dir.Close()
	}
	return nil
}

func (s *store) observe(ts Timestamp) {
	if !s.ignoreRemoteClock {
		s.st.Clock.Observe(ts)
	}
}

// ---------------------------------------------------------------- local writes

// write stores a document's new local state (text already checked) and queues it.
func (s *store) write(collection, id, text string) {
	k := key(collection, id)
	d := s.st.Docs[k]
	if d == nil {
		d = &Doc{Collection: collection, ID: id}
		s.st.Docs[k] = d
	}
	d.Document, d.Deleted = text, false
	s.enqueue(d)
}

// delete deletes a document locally and queues the tombstone.
func (s *store) delete(collection, id string) {
	k := key(collection, id)
	d := s.st.Docs[k]
	if d == nil || d.Deleted {
		return
	}
	if d.Server == nil || d.Server.Deleted {
		// The server holds no live copy: nothing to tell it, and the local
		// state is the server's again.
		if d.Server == nil {
			delete(s.st.Docs, k)
			return
		}
		d.Document, d.Deleted, d.Pending = "", true, nil
		return
	}
	d.Document, d.Deleted = "", true
	s.enqueue(d)
}

// enqueue gives the document's outbox entry a fresh client sequence and
// timestamp; its base stays the one of the first pending write (§9.2, §9.5).
func (s *store) enqueue(d *Doc) {
	if d.Pending == nil {
		d.Pending = &Pending{}
		if d.Server != nil {
			base := *d.Server
			d.Pending.Base = &base
		}
	}
	d.Pending.ClientSequence = s.nextSequence()
	d.Pending.Timestamp = s.st.Clock.Now()
}

func (s *store) nextSequence() uint64 {
	seq := s.st.NextSequence
	s.st.NextSequence++
	return seq
}

// pending lists the outbox, oldest write first, at most limit entries.
func (s *store) pending(limit int) []*Doc {
	var out []*Doc
	for _, d := range s.st.Docs {
		if d.Pending != nil {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pending.ClientSequence < out[j].Pending.ClientSequence })
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

func (s *store) pendingCount() int {
	n := 0
	for _, d := range s.st.Docs {
		if d.Pending != nil {
			n++
		}
	}
	return n
}

// ---------------------------------------------------------------- push answers

// sent is one change as pushed: what the server's answer refers to.
type sent struct {
	key            string
	clientSequence uint64
	document       string
	deleted        bool
	timestamp      Timestamp
}

// mine finds the document a push answer is about, and whether its outbox
// entry is still the pushed change; when a newer local write replaced it, the
// newer write stays pending (§9.2).
func (s *store) mine(c sent) (*Doc, bool) {
	d := s.st.Docs[c.key]
	return d, d != nil && d.Pending != nil && d.Pending.ClientSequence == c.clientSequence
}

// acknowledge records an Accepted change.
func (s *store) acknowledge(c sent, revision string, sequence uint64) {
	d, mine := s.mine(c)
	if d == nil {
		return
	}
	committed := &ServerState{Revision: revision, Sequence: sequence, Document: c.document, Deleted: c.deleted, Timestamp: c.timestamp, ClientID: s.st.ClientID}
	d.Server = newer(d.Server, committed)
	switch {
	case mine:
		d.Pending = nil
		d.Document, d.Deleted = d.Server.Document, d.Server.Deleted
	case d.Pending != nil:
		// The newer write builds on what the server just committed.
		d.Pending.Base = committed
	}
}

// adopt replaces the local state with the server's current one, without
// pushing it (Resolved, §7.2; or a conflict settled for the remote side).
func (s *store) adopt(c sent, current *syncv1.ChangeEvent) {
	d, mine := s.mine(c)
	if d == nil {
		return
	}
	s.observe(timestampOf(current.GetTimestamp()))
	d.Server = newer(d.Server, serverStateOf(current))
	if mine {
		d.Pending = nil
		d.Document, d.Deleted = d.Server.Document, d.Server.Deleted
	}
}

// rebase writes a conflict's resolution as a new local change on top of the
// server's current revision, with a new client sequence and a timestamp
// after the remote one (§7.1). It reports false, writing nothing, when a
// newer local write replaced the pushed change.
func (s *store) rebase(c sent, current *syncv1.ChangeEvent, r Resolution) bool {
	d, mine := s.mine(c)
	if d == nil {
		return false
	}
	s.observe(timestampOf(current.GetTimestamp()))
	remote := serverStateOf(current)
	d.Server = newer(d.Server, remote)
	if !mine {
		return false
	}
	d.Document, d.Deleted = r.Document, r.Deleted
	if r.Deleted {
		d.Document = ""
	}
	d.Pending = &Pending{ClientSequence: s.nextSequence(), Timestamp: s.st.Clock.Now(), Base: remote}
	return true
}

// reject drops a refused change and restores the last server state.
func (s *store) reject(c sent) {
	d, mine := s.mine(c)
	if !mine {
		return
	}
	if d.Server == nil {
		delete(s.st.Docs, c.key)
		return
	}
	d.Pending = nil
	d.Document, d.Deleted = d.Server.Document, d.Server.Deleted
}

// forget drops the pushed change without taking in the answer (the
// ignore-conflicts and ignore-resolved bugs).
func (s *store) forget(c sent) {
	if d, mine := s.mine(c); mine {
		d.Pending = nil
	}
}

// ---------------------------------------------------------------- server changes

// applyRemote applies changes from a pull or the stream. A change never
// enters the outbox (§9.3); a document with a pending change keeps its local
// state and base (§9.5); a change no newer than the one known is skipped,
// unless resyncing (a new epoch may restart sequences). It returns how many
// changes were new.
func (s *store) applyRemote(changes []*syncv1.ChangeEvent, resync bool) int {
	applied := 0
	for _, c := range changes {
		s.observe(timestampOf(c.GetTimestamp()))
		k := key(c.GetCollection(), c.GetDocumentId())
		if s.resyncSeen != nil {
			s.resyncSeen[k] = true
		}
		d := s.st.Docs[k]
		if d != nil && d.Server != nil && (d.Server.Revision == c.GetRevision() || (!resync && d.Server.Sequence >= c.GetServerSequence())) {
			continue
		}
		applied++
		if d == nil {
			d = &Doc{Collection: c.GetCollection(), ID: c.GetDocumentId()}
			s.st.Docs[k] = d
		}
		d.Server = serverStateOf(c)
		if d.Pending != nil {
			if s.rebasePending {
				d.Pending.Base = d.Server
			}
			continue
		}
		d.Document, d.Deleted = d.Server.Document, d.Server.Deleted
		if s.echo && !d.Deleted {
			s.enqueue(d)
		}
	}
	return applied
}

// finishResync deletes the documents of the resynced collections (of every
// collection when nil) that did not come back and have no pending change (§8.4).
func (s *store) finishResync(collections map[string]bool) {
	for k, d := range s.st.Docs {
		if (collections == nil || collections[d.Collection]) && d.Pending == nil && !s.resyncSeen[k] {
			delete(s.st.Docs, k)
		}
	}
}

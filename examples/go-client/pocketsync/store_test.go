package pocketsync

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	syncv1 "github.com/pocket-sync/pocket-sync/gen/go/pocket/sync/v1"
)

func newStore(t *testing.T) *store {
	t.Helper()
	s, err := openStore(filepath.Join(t.TempDir(), "replica.json"), "me")
	if err != nil {
		t.Fatal(err)
	}
	wall := &fakeWall{ms: 1_000_000}
	s.st.Clock.wall = wall.now
	return s
}

func change(id, doc, rev string, seq uint64, ts Timestamp) *syncv1.ChangeEvent {
	return &syncv1.ChangeEvent{
		Collection: "todos", DocumentId: id, Document: doc, Revision: rev, ServerSequence: seq,
		Timestamp: ts.proto(), ClientId: "other", Deleted: doc == "",
	}
}

func (s *store) doc(t *testing.T, id string) *Doc {
	t.Helper()
	d := s.st.Docs[key("todos", id)]
	if d == nil {
		t.Fatalf("no document %s", id)
	}
	return d
}

func pushed(d *Doc) sent {
	return sent{key: key(d.Collection, d.ID), clientSequence: d.Pending.ClientSequence, document: d.Document, deleted: d.Deleted, timestamp: d.Pending.Timestamp}
}

func TestALocalWriteAfterAPullIsLaterThanThePulledChange(t *testing.T) {
	s := newStore(t)
	ahead := Timestamp{WallTimeMs: 1_000_000 + 3_600_000, Logical: 7} // another replica's clock is an hour ahead
	s.applyRemote([]*syncv1.ChangeEvent{change("a", `{"v":1}`, "1-a", 1, ahead)}, false)
	s.write("todos", "b", `{"v":1}`) // a different document: the clock is the replica's
	if got := s.doc(t, "b").Pending.Timestamp; got.Compare(ahead) <= 0 {
		t.Fatalf("a write after pulling %+v has timestamp %+v: the clock ignored the remote timestamp (§10.2)", ahead, got)
	}
}

func TestAPulledChangeKeepsAPendingDocumentAndItsBase(t *testing.T) {
	s := newStore(t)
	s.applyRemote([]*syncv1.ChangeEvent{change("a", `{"v":1}`, "1-a", 1, earlier)}, false)
	s.write("todos", "a", `{"v":"local"}`)
	s.applyRemote([]*syncv1.ChangeEvent{change("a", `{"v":2}`, "2-b", 2, later)}, false)
	d := s.doc(t, "a")
	if d.Document != `{"v":"local"}` || d.Pending == nil {
		t.Fatalf("the pending local state was replaced: %+v", d)
	}
	if d.Revision() != "1-a" || d.Pending.BaseRevision() != "1-a" || d.Pending.Base.Document != `{"v":1}` {
		t.Fatalf("the base moved to %q: the push would not conflict (§9.5)", d.Revision())
	}
	if d.Server.Revision != "2-b" {
		t.Fatalf("the newer server state was not remembered: %+v", d.Server)
	}
}

func TestAnOlderServerStateNeverReplacesANewerOne(t *testing.T) {
	s := newStore(t)
	s.applyRemote([]*syncv1.ChangeEvent{change("a", `{"v":2}`, "2-b", 5, later)}, false)
	if n := s.applyRemote([]*syncv1.ChangeEvent{change("a", `{"v":1}`, "1-a", 3, earlier)}, false); n != 0 {
		t.Fatalf("applied %d older changes", n)
	}
	if d := s.doc(t, "a"); d.Document != `{"v":2}` {
		t.Fatalf("went back in time: %+v", d)
	}
	// A resync may start a new epoch whose sequences are lower: it applies.
	if n := s.applyRemote([]*syncv1.ChangeEvent{change("a", `{"v":3}`, "1-c", 1, later)}, true); n != 1 {
		t.Fatalf("a resync applied %d changes, want 1", n)
	}
}

func TestAnAcceptedChangeOvertakenByTheStreamAdoptsTheLaterState(t *testing.T) {
	s := newStore(t)
	s.write("todos", "a", `{"v":"mine"}`)
	c := pushed(s.doc(t, "a"))
	// Before the push answer is processed, the stream delivers our change (seq
	// 10) and then another user's (seq 11).
	s.applyRemote([]*syncv1.ChangeEvent{change("a", `{"v":"theirs"}`, "2-x", 11, later)}, false)
	s.acknowledge(c, "1-m", 10)
	d := s.doc(t, "a")
	if d.Pending != nil || d.Document != `{"v":"theirs"}` || d.Revision() != "2-x" {
		t.Fatalf("got %+v, want the later server state adopted", d)
	}
}

func TestAnAcceptedChangeReplacedMeanwhileRebasesTheNewerWrite(t *testing.T) {
	s := newStore(t)
	s.write("todos", "a", `{"v":1}`)
	c := pushed(s.doc(t, "a"))
	s.write("todos", "a", `{"v":2}`) // written again while the push was in flight
	s.acknowledge(c, "1-m", 10)
	d := s.doc(t, "a")
	if d.Pending == nil || d.Document != `{"v":2}` {
		t.Fatalf("the newer write is no longer pending: %+v", d)
	}
	if d.Pending.BaseRevision() != "1-m" {
		t.Fatalf("the newer write is based on %q, want the revision just accepted (or it conflicts with itself)", d.Pending.BaseRevision())
	}
}

func TestRebaseQueuesTheResolutionOnTheCurrentRevision(t *testing.T) {
	s := newStore(t)
	s.applyRemote([]*syncv1.ChangeEvent{change("a", `{"v":1}`, "1-a", 1, earlier)}, false)
	s.write("todos", "a", `{"v":"local"}`)
	c := pushed(s.doc(t, "a"))
	remote := Timestamp{WallTimeMs: 9_000_000, Logical: 4}
	current := change("a", `{"v":"remote"}`, "2-b", 2, remote)
	if !s.rebase(c, current, Resolution{Document: `{"v":"merged"}`}) {
		t.Fatal("rebase refused")
	}
	d := s.doc(t, "a")
	if d.Document != `{"v":"merged"}` || d.Pending.BaseRevision() != "2-b" {
		t.Fatalf("got %+v, want the resolution based on 2-b", d)
	}
	if d.Pending.ClientSequence == c.clientSequence {
		t.Fatal("the resolution reuses the conflicting change's client sequence (§7.1)")
	}
	if d.Pending.Timestamp.Compare(remote) <= 0 {
		t.Fatalf("the resolution's timestamp %+v is not after the remote one %+v", d.Pending.Timestamp, remote)
	}
	if s.rebase(c, current, Resolution{Document: `{}`}) {
		t.Fatal("a stale answer rebased the newer pending change")
	}
}

func TestRejectRestoresTheServerState(t *testing.T) {
	s := newStore(t)
	s.applyRemote([]*syncv1.ChangeEvent{change("a", `{"v":1}`, "1-a", 1, earlier)}, false)
	s.write("todos", "a", `{"v":"refused"}`)
	s.write("todos", "new", `{"v":"refused"}`)
	s.reject(pushed(s.doc(t, "a")))
	s.reject(pushed(s.doc(t, "new")))
	if d := s.doc(t, "a"); d.Pending != nil || d.Document != `{"v":1}` {
		t.Fatalf("got %+v, want the server's document back", d)
	}
	if _, ok := s.st.Docs[key("todos", "new")]; ok {
		t.Fatal("a refused document the server never had is still there")
	}
}

func TestDeletingWhatTheServerDoesNotHaveQueuesNothing(t *testing.T) {
	s := newStore(t)
	s.write("todos", "never-synced", `{"v":1}`)
	s.delete("todos", "never-synced")
	if len(s.st.Docs) != 0 {
		t.Fatalf("docs left: %v", s.st.Docs)
	}
	s.applyRemote([]*syncv1.ChangeEvent{change("gone", "", "2-t", 2, earlier)}, false) // a tombstone
	s.write("todos", "gone", `{"v":"again"}`)
	s.delete("todos", "gone")
	if d := s.doc(t, "gone"); d.Pending != nil || !d.Deleted || d.Revision() != "2-t" {
		t.Fatalf("got %+v, want the server's tombstone and nothing pending", d)
	}
}

func TestFinishResyncDropsWhatDidNotComeBack(t *testing.T) {
	s := newStore(t)
	s.applyRemote([]*syncv1.ChangeEvent{change("keep", `{}`, "1-a", 1, earlier), change("purged", `{}`, "1-b", 2, earlier)}, false)
	s.write("todos", "pending", `{}`)
	s.resyncSeen = map[string]bool{}
	s.applyRemote([]*syncv1.ChangeEvent{change("keep", `{}`, "1-a", 1, earlier)}, true)
	s.finishResync(map[string]bool{"todos": true})
	for _, id := range []string{"keep", "pending"} {
		s.doc(t, id)
	}
	if _, ok := s.st.Docs[key("todos", "purged")]; ok {
		t.Fatal("the purged document survived the resync (§8.4)")
	}
}

func TestTheReplicaSurvivesARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replica.json")
	s, err := openStore(path, "me")
	if err != nil {
		t.Fatal(err)
	}
	s.applyRemote([]*syncv1.ChangeEvent{change("a", `{"v":1}`, "1-a", 1, Timestamp{WallTimeMs: 1 << 50})}, false)
	s.write("todos", "b", `{"v":1}`)
	s.st.Checkpoint = []byte{1, 2, 3}
	if err := s.save(); err != nil {
		t.Fatal(err)
	}
	reopened, err := openStore(path, "someone-else")
	if err != nil {
		t.Fatal(err)
	}
	if reopened.st.ClientID != "me" {
		t.Fatalf("client id %q after a restart, want the stored one (§9.1)", reopened.st.ClientID)
	}
	if reopened.pendingCount() != 1 || string(reopened.st.Checkpoint) != "\x01\x02\x03" {
		t.Fatalf("outbox %d, checkpoint %v after a restart", reopened.pendingCount(), reopened.st.Checkpoint)
	}
	if reopened.st.Clock.Last.Compare(Timestamp{WallTimeMs: 1 << 50}) <= 0 {
		t.Fatalf("the clock restarted at %+v", reopened.st.Clock.Last)
	}
	if next := reopened.nextSequence(); next <= s.doc(t, "b").Pending.ClientSequence {
		t.Fatalf("client sequence %d reused after a restart", next)
	}
}

func TestAReplicaFileOfAnotherFormatIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replica.json")
	if err := os.WriteFile(path, []byte(`{"clientId":"x","docs":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := openStore(path, ""); err == nil || !strings.Contains(err.Error(), "format") {
		t.Fatalf("got %v, want a format error", err)
	}
}

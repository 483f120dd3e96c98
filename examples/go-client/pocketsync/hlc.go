package pocketsync

import (
	"math"
	"strings"
	"time"

	syncv1 "github.com/pocket-sync/pocket-sync/gen/go/pocket/sync/v1"
)

// Timestamp is a hybrid logical clock reading (PROTOCOL §10.1).
type Timestamp struct {
	WallTimeMs uint64 `json:"wall"`
	Logical    uint32 `json:"logical"`
}

// Compare orders timestamps by wall time, then logical counter.
func (t Timestamp) Compare(u Timestamp) int {
	switch {
	case t.WallTimeMs != u.WallTimeMs:
		if t.WallTimeMs < u.WallTimeMs {
			return -1
		}
		return 1
	case t.Logical != u.Logical:
		if t.Logical < u.Logical {
			return -1
		}
		return 1
	}
	return 0
}

func (t Timestamp) proto() *syncv1.HybridLogicalClock {
	return &syncv1.HybridLogicalClock{WallTimeMs: t.WallTimeMs, Logical: t.Logical}
}

func timestampOf(ts *syncv1.HybridLogicalClock) Timestamp {
	return Timestamp{WallTimeMs: ts.GetWallTimeMs(), Logical: ts.GetLogical()}
}

// CompareChanges orders two changes by timestamp, ties broken by client id
// compared as byte strings (PROTOCOL §10.1): the order last-write-wins uses.
func CompareChanges(a Timestamp, aClientID string, b Timestamp, bClientID string) int {
	if c := a.Compare(b); c != 0 {
		return c
	}
	return strings.Compare(aClientID, bClientID) // Go strings compare as bytes
}

// Clock is a hybrid logical clock (PROTOCOL §10.2). Last is the latest
// timestamp issued or observed; it is persisted with the replica so that a
// restart never issues a timestamp below one already used or seen.
type Clock struct {
	Last Timestamp `json:"last"`
	// wall reads the physical clock; nil means time.Now.
	wall func() time.Time
}

func (c *Clock) physical() uint64 {
	now := time.Now
	if c.wall != nil {
		now = c.wall
	}
	ms := now().UnixMilli()
	if ms < 0 {
		return 0
	}
	return uint64(ms)
}

// Now issues a timestamp for a local write, later than every timestamp issued
// or observed before, whatever the wall clock says.
func (c *Clock) Now() Timestamp {
	p := c.physical()
	switch {
	case p > c.Last.WallTimeMs:
		c.Last = Timestamp{WallTimeMs: p}
	case c.Last.Logical < math.MaxUint32:
		c.Last.Logical++
	case c.Last.WallTimeMs < math.MaxUint64:
		// The counter is exhausted (a remote timestamp can carry any value):
		// borrow the next millisecond rather than wrap around and go backwards.
		c.Last = Timestamp{WallTimeMs: c.Last.WallTimeMs + 1}
	}
	// Past both maxima nothing is later: the timestamp repeats and client
	// ids break the tie (§10.1).
	return c.Last
}

// Observe takes in a remote timestamp so that later local writes sort after it.
func (c *Clock) Observe(remote Timestamp) {
	if remote.Compare(c.Last) > 0 {
		c.Last = remote
	}
}

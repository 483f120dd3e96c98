package pocketsync

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// fakeWall is a wall clock the test sets.
type fakeWall struct{ ms int64 }

func (f *fakeWall) now() time.Time { return time.UnixMilli(f.ms) }

func TestClockNowFollowsTheWallClock(t *testing.T) {
	wall := &fakeWall{ms: 1000}
	c := Clock{wall: wall.now}
	if got := c.Now(); got != (Timestamp{1000, 0}) {
		t.Fatalf("first reading: %+v", got)
	}
	if got := c.Now(); got != (Timestamp{1000, 1}) {
		t.Fatalf("same millisecond: %+v, want the logical counter to count", got)
	}
	wall.ms = 2000
	if got := c.Now(); got != (Timestamp{2000, 0}) {
		t.Fatalf("later millisecond: %+v", got)
	}
	wall.ms = 500 // the wall clock steps back
	if got := c.Now(); got != (Timestamp{2000, 1}) {
		t.Fatalf("after the wall clock stepped back: %+v, want (2000, 1)", got)
	}
}

func TestClockObservesRemoteTimestamps(t *testing.T) {
	wall := &fakeWall{ms: 1000}
	c := Clock{wall: wall.now}
	remote := Timestamp{WallTimeMs: 1000 + 3_600_000, Logical: 7} // a peer an hour ahead
	c.Observe(remote)
	got := c.Now()
	if got.Compare(remote) <= 0 {
		t.Fatalf("a write after observing %+v got %+v: not later (§10.2)", remote, got)
	}
	if got != (Timestamp{remote.WallTimeMs, 8}) {
		t.Fatalf("got %+v, want (remote wall, remote logical + 1)", got)
	}
	c.Observe(Timestamp{WallTimeMs: 5}) // an older one changes nothing
	if c.Last != got {
		t.Fatalf("observing an older timestamp moved the clock to %+v", c.Last)
	}
}

func TestClockNeverWrapsAround(t *testing.T) {
	wall := &fakeWall{ms: 1000}
	c := Clock{wall: wall.now}
	exhausted := Timestamp{WallTimeMs: 1000, Logical: math.MaxUint32}
	c.Observe(exhausted)
	if got := c.Now(); got.Compare(exhausted) <= 0 {
		t.Fatalf("after a remote logical of MaxUint32, Now gave %+v: it went backwards", got)
	}
	c = Clock{wall: wall.now, Last: Timestamp{math.MaxUint64, math.MaxUint32}}
	if got := c.Now(); got != c.Last || got.WallTimeMs != math.MaxUint64 {
		t.Fatalf("at the very end of time Now gave %+v", got)
	}
}

// Property (§10.2): whatever the wall clock does and whatever arrives, every
// timestamp Now issues is later than every timestamp issued or observed
// before it.
func TestClockIsMonotonicProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for run := 0; run < 200; run++ {
		wall := &fakeWall{ms: rng.Int64N(10_000)}
		c := Clock{wall: wall.now}
		var highest Timestamp
		for step := 0; step < 200; step++ {
			wall.ms += rng.Int64N(7) - 3 // jitters both ways
			if wall.ms < 0 {
				wall.ms = 0
			}
			if rng.IntN(3) == 0 {
				remote := Timestamp{WallTimeMs: uint64(rng.Int64N(12_000)), Logical: uint32(rng.IntN(5))}
				if rng.IntN(20) == 0 {
					remote.Logical = math.MaxUint32 - uint32(rng.IntN(2))
				}
				c.Observe(remote)
				if remote.Compare(highest) > 0 {
					highest = remote
				}
				continue
			}
			got := c.Now()
			if got.Compare(highest) <= 0 {
				t.Fatalf("run %d step %d: Now gave %+v, not after %+v", run, step, got, highest)
			}
			highest = got
		}
	}
}

func TestClockSurvivesARestart(t *testing.T) {
	wall := &fakeWall{ms: 5000}
	c := Clock{wall: wall.now}
	c.Observe(Timestamp{WallTimeMs: 9000, Logical: 3})
	issued := c.Now()
	data, err := json.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	var reopened Clock
	if err := json.Unmarshal(data, &reopened); err != nil {
		t.Fatal(err)
	}
	reopened.wall = wall.now
	if got := reopened.Now(); got.Compare(issued) <= 0 {
		t.Fatalf("after a restart Now gave %+v, not after %+v", got, issued)
	}
}

func TestCompareChangesBreaksTiesByClientID(t *testing.T) {
	ts := Timestamp{WallTimeMs: 10, Logical: 2}
	cases := []struct {
		a, b   Timestamp
		ai, bi string
		want   int
	}{
		{Timestamp{11, 0}, ts, "a", "z", 1},   // wall time first
		{Timestamp{10, 3}, ts, "a", "z", 1},   // then the logical counter
		{Timestamp{10, 1}, ts, "z", "a", -1},  // before the client id
		{ts, ts, "b", "a", 1},                 // a tie: client id as bytes
		{ts, ts, "B", "a", -1},                // bytes, not case-folded
		{ts, ts, "client-1", "client-10", -1}, // a prefix sorts first
		{ts, ts, "x", "x", 0},
	}
	for _, c := range cases {
		if got := CompareChanges(c.a, c.ai, c.b, c.bi); got != c.want {
			t.Errorf("CompareChanges(%+v %q, %+v %q) = %d, want %d", c.a, c.ai, c.b, c.bi, got, c.want)
		}
		if got := CompareChanges(c.b, c.bi, c.a, c.ai); got != -c.want {
			t.Errorf("CompareChanges is not antisymmetric for %+v %q / %+v %q", c.a, c.ai, c.b, c.bi)
		}
	}
}

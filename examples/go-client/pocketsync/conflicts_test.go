package pocketsync

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
)

var (
	earlier = Timestamp{WallTimeMs: 1000}
	later   = Timestamp{WallTimeMs: 2000}
)

func ptr(s string) *string { return &s }

// value decodes a document for comparison as a JSON value.
func value(t *testing.T, text string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("not JSON: %q: %v", text, err)
	}
	return v
}

func conflict(local, remote string, localTime, remoteTime Timestamp, base *string) Conflict {
	return Conflict{
		Local:  Version{Document: local, Timestamp: localTime, ClientID: "local"},
		Remote: Version{Document: remote, Timestamp: remoteTime, ClientID: "remote"},
		Base:   base,
	}
}

func TestMergeDocuments(t *testing.T) {
	base := ptr(`{"a":1,"b":1,"c":1,"d":1}`)
	cases := []struct {
		name string
		c    Conflict
		want string
	}{
		{
			// The conformance case conflict-report/merge-three-way: a key only
			// one side changed keeps that change even when the other side is later.
			name: "three-way, remote later",
			c:    conflict(`{"a":1,"b":3,"c":5}`, `{"a":2,"b":1,"c":6,"d":1,"e":1}`, earlier, later, base),
			want: `{"a":2,"b":3,"c":6,"e":1}`,
		},
		{
			name: "three-way, local later",
			c:    conflict(`{"a":1,"b":3,"c":5}`, `{"a":2,"b":1,"c":6,"d":1,"e":1}`, later, earlier, base),
			want: `{"a":2,"b":3,"c":5,"e":1}`,
		},
		{
			name: "three-way, a removal only the remote made",
			c:    conflict(`{"a":1,"b":1,"c":1,"d":1,"x":true}`, `{"a":1,"b":1,"c":1}`, later, earlier, base),
			want: `{"a":1,"b":1,"c":1,"x":true}`,
		},
		{
			name: "three-way, both removed the same key",
			c:    conflict(`{"a":1,"b":1,"c":1}`, `{"a":1,"b":1,"c":1}`, later, earlier, base),
			want: `{"a":1,"b":1,"c":1}`,
		},
		{
			name: "three-way, one side removes, the other changes: the later wins",
			c:    conflict(`{"a":1,"b":1,"c":1}`, `{"a":1,"b":1,"c":1,"d":9}`, earlier, later, base),
			want: `{"a":1,"b":1,"c":1,"d":9}`,
		},
		{
			name: "three-way, equal values written differently are unchanged",
			c:    conflict(`{"a":1.0,"b":1,"c":1,"d":1,"n":{"y":2,"x":1}}`, `{"a":2,"b":1,"c":1,"d":1}`, later, earlier, ptr(`{"a":1,"b":1,"c":1,"d":1,"n":{"x":1,"y":2}}`)),
			want: `{"a":2,"b":1,"c":1,"d":1}`,
		},
		{
			name: "two-way: every shared key by time, a key on one side kept",
			c:    conflict(`{"a":1,"b":3,"l":true}`, `{"a":2,"b":1,"r":true}`, earlier, later, nil),
			want: `{"a":2,"b":1,"r":true,"l":true}`,
		},
		{
			name: "two-way, local later",
			c:    conflict(`{"a":1,"b":3,"l":true}`, `{"a":2,"b":1,"r":true}`, later, earlier, nil),
			want: `{"a":1,"b":3,"r":true,"l":true}`,
		},
		{
			name: "nested values merge whole, as top-level keys",
			c:    conflict(`{"n":{"x":1}}`, `{"n":{"y":2}}`, later, earlier, ptr(`{"n":{}}`)),
			want: `{"n":{"x":1}}`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := MergeDocuments(tc.c)
			if r.TakeRemote || r.Deleted {
				t.Fatalf("got %+v, want a merged document", r)
			}
			if !reflect.DeepEqual(value(t, r.Document), value(t, tc.want)) {
				t.Fatalf("merged %s, want %s", r.Document, tc.want)
			}
		})
	}
}

func TestMergeKeepsTheRemoteKeyOrder(t *testing.T) {
	r := MergeDocuments(conflict(`{"z":1,"new":2}`, `{"m":1,"z":1,"a":1}`, later, earlier, nil))
	if want := `{"m":1,"z":1,"a":1,"new":2}`; r.Document != want {
		t.Fatalf("merged %s, want %s", r.Document, want)
	}
}

func TestMergeMeetsADeleteByTime(t *testing.T) {
	deletedLocally := Conflict{
		Local:  Version{Deleted: true, Timestamp: later, ClientID: "local"},
		Remote: Version{Document: `{"a":1}`, Timestamp: earlier, ClientID: "remote"},
	}
	if r := MergeDocuments(deletedLocally); !r.Deleted || r.TakeRemote {
		t.Fatalf("a later local delete: got %+v, want the delete", r)
	}
	deletedLocally.Local.Timestamp = earlier
	deletedLocally.Remote.Timestamp = later
	if r := MergeDocuments(deletedLocally); !r.TakeRemote {
		t.Fatalf("an earlier local delete: got %+v, want the remote edit", r)
	}
	deletedRemotely := conflict(`{"a":1}`, "", later, earlier, nil)
	deletedRemotely.Remote.Deleted = true
	if r := MergeDocuments(deletedRemotely); r.TakeRemote || r.Document != `{"a":1}` {
		t.Fatalf("a later local edit of a remotely deleted document: got %+v", r)
	}
}

func TestMergeOfANonObjectFallsBackToTime(t *testing.T) {
	r := MergeDocuments(conflict(`{"a":1}`, `[1,2]`, earlier, later, nil))
	if !r.TakeRemote {
		t.Fatalf("got %+v, want the later (remote) side", r)
	}
}

func TestResolve(t *testing.T) {
	c := conflict(`{"v":"local"}`, `{"v":"remote"}`, earlier, later, nil)
	cases := []struct {
		s          Strategy
		c          Conflict
		takeRemote bool
	}{
		{LocalWins, c, false},
		{RemoteWins, c, true},
		{LastWriteWins, c, true},
		{LastWriteWins, conflict(`{"v":"local"}`, `{"v":"remote"}`, later, earlier, nil), false},
		// A tie in time goes to the greater client id: "remote" > "local".
		{LastWriteWins, conflict(`{"v":"local"}`, `{"v":"remote"}`, later, later, nil), true},
	}
	for i, tc := range cases {
		r := Resolve(tc.s, tc.c)
		if r.TakeRemote != tc.takeRemote {
			t.Errorf("case %d (%v): TakeRemote = %v, want %v", i, tc.s, r.TakeRemote, tc.takeRemote)
		}
		if !r.TakeRemote && r.Document != tc.c.Local.Document {
			t.Errorf("case %d (%v): kept %q, want the local document", i, tc.s, r.Document)
		}
	}
}

func TestParseStrategy(t *testing.T) {
	for _, s := range []Strategy{LastWriteWins, LocalWins, RemoteWins, Merge} {
		if got, err := ParseStrategy(s.String()); err != nil || got != s {
			t.Errorf("ParseStrategy(%q) = %v, %v", s.String(), got, err)
		}
	}
	if _, err := ParseStrategy("server-wins"); err == nil {
		t.Error("ParseStrategy accepted an unknown name")
	}
}

// ---------------------------------------------------------------- properties

// randomDoc is a small document over a few keys and values, so that sides
// often share keys and values.
func randomDoc(rng *rand.Rand) map[string]any {
	values := []any{1.0, 2.0, "x", true, nil, []any{1.0}, map[string]any{"n": 1.0}}
	doc := map[string]any{}
	for _, k := range []string{"a", "b", "c", "d"} {
		if rng.IntN(3) > 0 {
			doc[k] = values[rng.IntN(len(values))]
		}
	}
	return doc
}

func text(t *testing.T, v map[string]any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestMergeProperties checks, over random documents, what three-way merge
// promises whatever the values:
//   - a side that changed nothing since the base yields the other side;
//   - both sides equal yields that document;
//   - swapping the sides (and who is later) changes nothing: the result
//     depends on the changes, not on which replica merges;
//   - every key of the result is taken from one of the sides, and a key
//     only one side changed has that side's value.
func TestMergeProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 2000; i++ {
		base, local, remote := randomDoc(rng), randomDoc(rng), randomDoc(rng)
		if rng.IntN(4) == 0 {
			local = base
		}
		if rng.IntN(4) == 0 {
			remote = base
		}
		lt, rt := earlier, later
		if rng.IntN(2) == 0 {
			lt, rt = later, earlier
		}
		b := text(t, base)
		c := conflict(text(t, local), text(t, remote), lt, rt, &b)
		got := value(t, MergeDocuments(c).Document).(map[string]any)
		name := fmt.Sprintf("base %s local %s remote %s localLater %v", b, c.Local.Document, c.Remote.Document, lt == later)

		if reflect.DeepEqual(local, base) && !reflect.DeepEqual(got, value(t, c.Remote.Document)) {
			t.Fatalf("%s: local unchanged, merged %v, want the remote document", name, got)
		}
		if reflect.DeepEqual(remote, base) && !reflect.DeepEqual(got, value(t, c.Local.Document)) {
			t.Fatalf("%s: remote unchanged, merged %v, want the local document", name, got)
		}
		if reflect.DeepEqual(local, remote) && !reflect.DeepEqual(got, value(t, c.Local.Document)) {
			t.Fatalf("%s: equal sides, merged %v", name, got)
		}
		swapped := Conflict{
			Local:  Version{Document: c.Remote.Document, Timestamp: rt, ClientID: "remote"},
			Remote: Version{Document: c.Local.Document, Timestamp: lt, ClientID: "local"},
			Base:   &b,
		}
		if other := value(t, MergeDocuments(swapped).Document); !reflect.DeepEqual(got, other) {
			t.Fatalf("%s: merged %v, but %v with the sides swapped", name, got, other)
		}
		for _, k := range keysOf(got) {
			lv, inLocal := local[k]
			rv, inRemote := remote[k]
			if !(inLocal && reflect.DeepEqual(jsonRound(t, lv), got[k])) && !(inRemote && reflect.DeepEqual(jsonRound(t, rv), got[k])) {
				t.Fatalf("%s: key %s = %v comes from neither side", name, k, got[k])
			}
		}
		for _, k := range []string{"a", "b", "c", "d"} {
			bv, inBase := base[k]
			lv, inLocal := local[k]
			rv, inRemote := remote[k]
			localChanged := inLocal != inBase || !reflect.DeepEqual(lv, bv)
			remoteChanged := inRemote != inBase || !reflect.DeepEqual(rv, bv)
			if localChanged && !remoteChanged {
				gv, inGot := got[k]
				if inGot != inLocal || (inGot && !reflect.DeepEqual(gv, jsonRound(t, lv))) {
					t.Fatalf("%s: only local changed %s, merged has %v", name, k, gv)
				}
			}
		}
	}
}

// jsonRound is v as it reads back from JSON.
func jsonRound(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

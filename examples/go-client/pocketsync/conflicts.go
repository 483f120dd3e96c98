package pocketsync

import (
	"fmt"
	"strings"
)

// Strategy is how the client settles a change the server answered with
// Conflict (PROTOCOL §7.1). The names follow the server's strategies (§7),
// read from the client's side: local is the client's pending change, remote
// the server's current document.
type Strategy int

const (
	// LastWriteWins keeps the side with the later hybrid logical clock
	// timestamp (§10), ties broken by client id. The default.
	LastWriteWins Strategy = iota
	// LocalWins keeps the local document and pushes it again.
	LocalWins
	// RemoteWins adopts the server's document and drops the local change.
	RemoteWins
	// Merge merges the top-level keys: three-way where the client knows the
	// document its change was based on, otherwise two-way; see MergeDocuments.
	Merge
)

func (s Strategy) String() string {
	switch s {
	case LastWriteWins:
		return "last-write-wins"
	case LocalWins:
		return "local-wins"
	case RemoteWins:
		return "remote-wins"
	case Merge:
		return "merge"
	}
	return fmt.Sprintf("Strategy(%d)", int(s))
}

// ParseStrategy reads a strategy by the name String gives it.
func ParseStrategy(name string) (Strategy, error) {
	for _, s := range []Strategy{LastWriteWins, LocalWins, RemoteWins, Merge} {
		if strings.EqualFold(name, s.String()) {
			return s, nil
		}
	}
	return 0, fmt.Errorf("unknown conflict strategy %q (last-write-wins, local-wins, remote-wins, merge)", name)
}

// Version is one side of a conflict.
type Version struct {
	// Document is the JSON object text; ignored when Deleted.
	Document  string
	Deleted   bool
	Timestamp Timestamp
	ClientID  string
}

// Conflict is a local change the server refused because the document moved
// on since the change's base revision.
type Conflict struct {
	Local  Version
	Remote Version
	// Base is the document the local change was written on, when the client
	// received it from the server; nil when unknown (never seen, or deleted).
	Base *string
}

// LocalIsLater says whether the local change is the later write (§10.1).
func (c Conflict) LocalIsLater() bool {
	return CompareChanges(c.Local.Timestamp, c.Local.ClientID, c.Remote.Timestamp, c.Remote.ClientID) > 0
}

// Resolution is the state a strategy settles on.
type Resolution struct {
	// TakeRemote adopts the server's current state; nothing is pushed.
	TakeRemote bool
	// Otherwise Document (or Deleted) is pushed on top of the remote revision.
	Document string
	Deleted  bool
}

func keepLocal(c Conflict) Resolution {
	return Resolution{Document: c.Local.Document, Deleted: c.Local.Deleted}
}

// Resolve settles a conflict with a strategy.
func Resolve(s Strategy, c Conflict) Resolution {
	switch s {
	case LocalWins:
		return keepLocal(c)
	case RemoteWins:
		return Resolution{TakeRemote: true}
	case Merge:
		return MergeDocuments(c)
	default:
		if c.LocalIsLater() {
			return keepLocal(c)
		}
		return Resolution{TakeRemote: true}
	}
}

// MergeDocuments merges the top-level keys of both sides, as the server's
// merge strategy does (PROTOCOL §7). Where the base is known it is three-way:
// a key only one side changed (added, removed or set to another value) takes
// that side's value. A key both sides changed, or any key when there is no
// base, takes the value of the later write; without a base, a key only one
// side has is kept, since an addition cannot be told from a removal. A delete
// meets an edit by timestamp: the later one wins, whole.
//
// The merged key order is the remote document's, then keys only the local one
// has, so a merge that changes nothing reproduces the remote text's order.
func MergeDocuments(c Conflict) Resolution {
	localLater := c.LocalIsLater()
	later := func() Resolution {
		if localLater {
			return keepLocal(c)
		}
		return Resolution{TakeRemote: true}
	}
	if c.Local.Deleted || c.Remote.Deleted {
		return later()
	}
	local, errLocal := parseObject(c.Local.Document)
	remote, errRemote := parseObject(c.Remote.Document)
	if errLocal != nil || errRemote != nil {
		// Only a server breaking §3.2 sends a non-object; settling by time
		// keeps the outbox moving instead of stalling on it.
		return later()
	}
	var base object
	if c.Base != nil {
		if b, err := parseObject(*c.Base); err == nil {
			base = b
		}
	}
	keys := make([]string, 0, len(remote)+len(local))
	for _, f := range remote {
		keys = append(keys, f.Key)
	}
	for _, f := range local {
		if _, ok := remote.get(f.Key); !ok {
			keys = append(keys, f.Key)
		}
	}
	merged := make(object, 0, len(keys))
	for _, key := range keys {
		lv, inLocal := local.get(key)
		rv, inRemote := remote.get(key)
		takeLocal := localLater
		switch {
		case base != nil:
			bv, inBase := base.get(key)
			localChanged := inLocal != inBase || (inLocal && !jsonEqual(lv, bv))
			remoteChanged := inRemote != inBase || (inRemote && !jsonEqual(rv, bv))
			if localChanged != remoteChanged {
				takeLocal = localChanged
			}
		case inLocal != inRemote:
			takeLocal = inLocal
		}
		if takeLocal && inLocal {
			merged = append(merged, field{Key: key, Value: lv})
		} else if !takeLocal && inRemote {
			merged = append(merged, field{Key: key, Value: rv})
		}
	}
	return Resolution{Document: merged.text()}
}

package pocketsync

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"

	syncv1 "github.com/pocket-sync/pocket-sync/gen/go/pocket/sync/v1"
)

const (
	// maxPushBatch is the schema's limit of changes per push (§14).
	maxPushBatch = 500
	// maxPushRounds bounds one Sync's pushes: conflicts settled by the client
	// are pushed again in the next round, and a document other users keep
	// changing must not hold Sync forever.
	maxPushRounds = 10
)

// push sends the outbox, oldest first, until it is empty, settling each
// answer. The network call runs without the lock; answers are matched to the
// outbox by client sequence, so a document written again meanwhile keeps its
// newer write pending.
func (r *Replica) push(ctx context.Context, res *SyncResult) error {
	limit := maxPushBatch
	for round := 0; round < maxPushRounds; {
		batch, req := r.preparePush(limit)
		if len(batch) == 0 {
			return nil
		}
		out, err := retry(ctx, defaultCallPolicy, func(ctx context.Context) (*connect.Response[syncv1.PushResponse], error) {
			if r.cfg.Bug == BugResequence {
				r.resequence(batch, req)
			}
			out, err := r.client.Push(ctx, connect.NewRequest(req))
			if r.cfg.Bug == BugGiveUp {
				r.giveUpAfterThree(batch, err)
			}
			return out, err
		})
		if err != nil {
			// A batch over the server's message limit may be refused by its
			// RPC stack with the bare code (§11): halve it and go again.
			if connect.CodeOf(err) == connect.CodeResourceExhausted && reasonOf(err) == "" && len(batch) > 1 {
				limit = (len(batch) + 1) / 2
				continue
			}
			return err
		}
		round++
		answered, err := r.settle(batch, out.Msg.GetResults(), res)
		if err != nil {
			return err
		}
		if answered == 0 {
			return connect.NewError(connect.CodeInternal, errors.New("the server answered none of the pushed changes"))
		}
	}
	return nil
}

// preparePush builds the next push from the outbox: at most one change per
// document, its latest state (§9.2).
func (r *Replica) preparePush(limit int) ([]sent, *syncv1.PushRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	req := &syncv1.PushRequest{ClientId: r.store.st.ClientID}
	var batch []sent
	for _, d := range r.store.pending(limit) {
		p := d.Pending
		change := &syncv1.ChangeEvent{
			Collection:     d.Collection,
			DocumentId:     d.ID,
			BaseRevision:   p.BaseRevision(),
			ClientSequence: p.ClientSequence,
			Timestamp:      p.Timestamp.proto(),
		}
		switch {
		case d.Deleted:
			change.Operation = syncv1.Operation_OPERATION_DELETE
		case change.BaseRevision == "":
			change.Operation, change.Document = syncv1.Operation_OPERATION_INSERT, d.Document
		default:
			change.Operation, change.Document = syncv1.Operation_OPERATION_UPDATE, d.Document
		}
		if r.cfg.Bug == BugStaleBase {
			change.BaseRevision = ""
		}
		req.Changes = append(req.Changes, change)
		batch = append(batch, sent{key: key(d.Collection, d.ID), clientSequence: p.ClientSequence, document: d.Document, deleted: d.Deleted, timestamp: p.Timestamp})
	}
	return batch, req
}

// resequence is the resequence bug: every attempt gets new client sequences.
func (r *Replica) resequence(batch []sent, req *syncv1.PushRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range batch {
		d, mine := r.store.mine(batch[i])
		if !mine {
			continue
		}
		seq := r.store.nextSequence()
		d.Pending.ClientSequence, batch[i].clientSequence, req.Changes[i].ClientSequence = seq, seq, seq
	}
}

// settle takes in the push's answers and saves; it reports how many of the
// pushed changes were answered.
func (r *Replica) settle(batch []sent, results []*syncv1.ChangeResult, res *SyncResult) (int, error) {
	bySequence := make(map[uint64]sent, len(batch))
	for _, c := range batch {
		bySequence[c.clientSequence] = c
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	answered := 0
	for _, result := range results {
		c, ok := bySequence[result.GetClientSequence()]
		if !ok {
			continue
		}
		delete(bySequence, c.clientSequence) // one answer per change
		answered++
		switch o := result.GetOutcome().(type) {
		case *syncv1.ChangeResult_Accepted:
			r.store.acknowledge(c, o.Accepted.GetRevision(), o.Accepted.GetServerSequence())
			res.Pushed++
		case *syncv1.ChangeResult_Resolved:
			if r.cfg.Bug == BugIgnoreResolved {
				r.store.forget(c)
			} else {
				r.store.adopt(c, o.Resolved.GetCurrent())
			}
			res.Pushed++
		case *syncv1.ChangeResult_Conflict:
			res.Conflicts++
			if r.cfg.Bug == BugIgnoreConflicts {
				r.store.forget(c)
			} else {
				r.settleConflictLocked(c, o.Conflict.GetCurrent())
			}
		case *syncv1.ChangeResult_Rejected:
			r.store.reject(c)
			r.lastError = fmt.Sprintf("%s rejected: %s %s", c.key, o.Rejected.GetReason(), o.Rejected.GetMessage())
		}
	}
	return answered, r.store.save()
}

// settleConflictLocked settles a Conflict with the client's strategy (§7.1):
// the server's state is adopted, or the resolution is queued on top of
// current.revision with a new client sequence, for the next round.
func (r *Replica) settleConflictLocked(c sent, current *syncv1.ChangeEvent) {
	d, mine := r.store.mine(c)
	if !mine {
		// A newer local write replaced the change; it will meet the conflict itself.
		if d != nil {
			r.store.observe(timestampOf(current.GetTimestamp()))
			d.Server = newer(d.Server, serverStateOf(current))
		}
		return
	}
	remote := serverStateOf(current)
	conflict := Conflict{
		Local:  Version{Document: c.document, Deleted: c.deleted, Timestamp: c.timestamp, ClientID: r.store.st.ClientID},
		Remote: Version{Document: remote.Document, Deleted: remote.Deleted, Timestamp: remote.Timestamp, ClientID: remote.ClientID},
	}
	if base := d.Pending.Base; base != nil && !base.Deleted && r.cfg.Bug != BugTwoWayMerge {
		conflict.Base = &base.Document
	}
	if r.cfg.Bug == BugAlwaysLocal {
		conflict.Remote.Timestamp = Timestamp{}
	}
	resolution := Resolve(r.cfg.Strategy, conflict)
	if resolution.TakeRemote || sameState(resolution, remote) {
		r.store.adopt(c, current)
		return
	}
	r.store.rebase(c, current, resolution)
}

// sameState says whether a resolution is the server's state already, so
// that there is nothing to push.
func sameState(r Resolution, s *ServerState) bool {
	if r.Deleted || s.Deleted {
		return r.Deleted == s.Deleted
	}
	return jsonEqual([]byte(r.Document), []byte(s.Document))
}

// giveUpAfterThree is the give-up bug: a batch whose push failed three times
// in a row is dropped from the outbox, as a client with a maxRetryAttempts
// that gives changes up would.
func (r *Replica) giveUpAfterThree(batch []sent, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		r.failedPushes = 0
		return
	}
	if r.failedPushes++; r.failedPushes >= 3 {
		for _, c := range batch {
			r.store.forget(c)
		}
		_ = r.store.save()
	}
}

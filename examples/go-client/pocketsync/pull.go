package pocketsync

import (
	"context"
	"errors"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	syncv1 "github.com/pocket-sync/pocket-sync/gen/go/pocket/sync/v1"
)

// errNoCheckpoint stops a pull that could only start over from the
// beginning, page after page, for ever.
var errNoCheckpoint = connect.NewError(connect.CodeInternal, errors.New("the server set has_more without a checkpoint"))

// pull reads pages from the stored checkpoint until has_more is false,
// storing each page's checkpoint in the same save as its changes (§4.7,
// §9.4). On resync-required it resyncs (§8.4). It returns how many new
// changes arrived.
func (r *Replica) pull(ctx context.Context) (int, error) {
	r.pulling.Lock()
	defer r.pulling.Unlock()
	cp := r.storedCheckpoint()
	pulled := 0
	for {
		out, err := r.pullPage(ctx, cp)
		if err != nil {
			if resync, names := resyncCollections(err); resync {
				n, err := r.resyncLocked(ctx, names)
				return pulled + n, err
			}
			return pulled, err
		}
		n, err := r.applyRemote(out.GetChanges(), out.GetCheckpoint())
		pulled += n
		if err != nil || !out.GetHasMore() {
			return pulled, err
		}
		if cp = out.GetCheckpoint(); cp == nil {
			return pulled, errNoCheckpoint
		}
	}
}

func (r *Replica) pullPage(ctx context.Context, cp *syncv1.Checkpoint) (*syncv1.PullResponse, error) {
	req := &syncv1.PullRequest{Collections: r.cfg.Collections, Checkpoint: cp, ClientId: r.ClientID()}
	out, err := retry(ctx, defaultCallPolicy, func(ctx context.Context) (*connect.Response[syncv1.PullResponse], error) {
		return r.client.Pull(ctx, connect.NewRequest(req))
	})
	if err != nil {
		return nil, err
	}
	return out.Msg, nil
}

// resync is resyncLocked for callers that do not hold the pull lock (the stream).
func (r *Replica) resync(ctx context.Context, names []string) error {
	r.pulling.Lock()
	defer r.pulling.Unlock()
	_, err := r.resyncLocked(ctx, names)
	return err
}

// resyncLocked pulls the named collections from the beginning (removed from
// the checkpoint), then deletes every local document of theirs that did not
// come back and has no pending change (§8.4). If the server refuses that
// checkpoint too (another epoch), it starts over from the empty checkpoint,
// resyncing every collection. The new checkpoint is stored only with the
// deletions, so a crash midway resyncs again rather than keep a purged
// document forever.
func (r *Replica) resyncLocked(ctx context.Context, names []string) (int, error) {
	cp := proto.Clone(r.storedCheckpoint()).(*syncv1.Checkpoint)
	resynced := map[string]bool{}
	for _, c := range names {
		resynced[c] = true
		delete(cp.Collections, c)
	}
	fromScratch := len(resynced) == 0
	if fromScratch {
		cp = &syncv1.Checkpoint{}
	}
	r.mu.Lock()
	r.store.resyncSeen = map[string]bool{}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.store.resyncSeen = nil
		r.mu.Unlock()
	}()
	pulled := 0
	for page := 0; ; page++ {
		out, err := r.pullPage(ctx, cp)
		if err != nil {
			if resync, _ := resyncCollections(err); resync && !fromScratch {
				cp, fromScratch = &syncv1.Checkpoint{}, true
				continue
			}
			return pulled, err
		}
		r.mu.Lock()
		seen := r.store.resyncSeen
		if page > 0 && r.cfg.Bug == BugResyncFirstPage {
			r.store.resyncSeen = nil // the bug: later pages are applied but not counted as come back
		}
		pulled += r.store.applyRemote(out.GetChanges(), true)
		r.store.resyncSeen = seen
		r.mu.Unlock()
		cp = out.GetCheckpoint()
		if !out.GetHasMore() {
			break
		}
		if cp == nil {
			return pulled, errNoCheckpoint
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if fromScratch { // every collection came back whole
		for _, c := range r.cfg.Collections {
			resynced[c] = true
		}
		if len(r.cfg.Collections) == 0 {
			resynced = nil // following every collection: every local one
		}
	}
	r.store.finishResync(resynced)
	if err := r.storeCheckpointLocked(cp); err != nil {
		return pulled, err
	}
	return pulled, r.store.save()
}

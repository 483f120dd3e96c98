package pocketsync

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect"

	syncv1 "github.com/pocket-sync/pocket-sync/gen/go/pocket/sync/v1"
)

// streamBackoff paces resubscribing after a stream ends. Its cap is low: a
// stream is the replica's only way to hear of changes without Sync.
var streamBackoff = backoff{base: 100 * time.Millisecond, max: 5 * time.Second}

// errSilentStream ends a stream that sent nothing for three heartbeat
// intervals (§5.3): a connection that died without a word.
var errSilentStream = errors.New("no message for three heartbeat intervals")

// streamRunner is the goroutine that keeps the stream open.
type streamRunner struct {
	done chan struct{}
}

// wait blocks until the goroutine has returned; a nil runner is done.
func (s *streamRunner) wait() {
	if s != nil {
		<-s.done
	}
}

// startStream follows the server until session ends.
func (r *Replica) startStream(session context.Context) *streamRunner {
	s := &streamRunner{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		r.followStream(session)
	}()
	return s
}

// followStream subscribes from the stored checkpoint and, whenever the stream
// ends (the server may end it at any time, §5.4), subscribes again from the
// checkpoint stored last, so nothing is missed (§4.6). A stream that had
// caught up is reopened after a short pause; one failing before that backs
// off further each time.
func (r *Replica) followStream(ctx context.Context) {
	attempt := 0
	for {
		caughtUp, err := r.subscribeOnce(ctx)
		r.setSubscribed(false)
		if ctx.Err() != nil {
			return
		}
		if resync, names := resyncCollections(err); resync {
			if err = r.resync(ctx, names); err == nil {
				continue
			}
		}
		if err != nil {
			r.noteError("subscribe", err)
			r.logf("stream ended: %v", err)
		}
		if r.cfg.Bug == BugNoReconnect {
			return
		}
		if caughtUp {
			attempt = 0
		}
		attempt++
		if !sleep(ctx, streamBackoff.delay(attempt)) {
			return
		}
	}
}

// subscribeOnce runs one stream until it ends; it reports whether the stream
// caught up, and why it ended (nil: the server closed it cleanly).
func (r *Replica) subscribeOnce(ctx context.Context) (caughtUp bool, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	silence := 3 * r.cfg.HeartbeatInterval
	watchdog := time.AfterFunc(silence, func() { cancel(errSilentStream) })
	defer watchdog.Stop()
	defer func() {
		if errors.Is(context.Cause(ctx), errSilentStream) {
			err = errSilentStream
		}
	}()

	req := &syncv1.SubscribeRequest{
		Collections:         r.cfg.Collections,
		Checkpoint:          r.storedCheckpoint(),
		ClientId:            r.ClientID(),
		HeartbeatIntervalMs: uint32(r.cfg.HeartbeatInterval.Milliseconds()),
	}
	stream, err := r.client.Subscribe(ctx, connect.NewRequest(req))
	if err != nil {
		return false, err
	}
	defer stream.Close()
	for stream.Receive() {
		watchdog.Reset(silence)
		switch event := stream.Msg().GetEvent().(type) {
		case *syncv1.SubscribeResponse_Changes:
			batch := event.Changes
			if _, err := r.applyRemote(batch.GetChanges(), batch.GetCheckpoint()); err != nil {
				return caughtUp, err
			}
			if batch.GetCaughtUp() && !caughtUp {
				caughtUp = true
				r.setSubscribed(true)
			}
		case *syncv1.SubscribeResponse_Heartbeat:
			// Everything before a heartbeat is applied: its checkpoint is safe to store.
			if cp := event.Heartbeat.GetCheckpoint(); cp != nil && r.cfg.Bug != BugHeartbeats {
				if _, err := r.applyRemote(nil, cp); err != nil {
					return caughtUp, err
				}
			}
		}
	}
	return caughtUp, stream.Err()
}

func (r *Replica) setSubscribed(subscribed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subscribed = subscribed
}

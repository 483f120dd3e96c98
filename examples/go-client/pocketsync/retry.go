package pocketsync

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
)

// errorDomain is the ErrorInfo domain of Pocket Sync errors (PROTOCOL §11).
const errorDomain = "sync.pocket.dev"

const (
	reasonResyncRequired = "ERROR_REASON_RESYNC_REQUIRED"
	reasonTooLarge       = "ERROR_REASON_TOO_LARGE"
)

// errorInfo returns the Pocket Sync ErrorInfo detail of an error, if any.
func errorInfo(err error) *errdetails.ErrorInfo {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return nil
	}
	for _, d := range ce.Details() {
		if v, e := d.Value(); e == nil {
			if info, ok := v.(*errdetails.ErrorInfo); ok && info.GetDomain() == errorDomain {
				return info
			}
		}
	}
	return nil
}

func reasonOf(err error) string { return errorInfo(err).GetReason() }

// resyncCollections says whether err asks for a resync (§8.3) and of which
// collections (empty: the error did not name them).
func resyncCollections(err error) (bool, []string) {
	if connect.CodeOf(err) != connect.CodeFailedPrecondition || reasonOf(err) != reasonResyncRequired {
		return false, nil
	}
	var names []string
	for _, c := range strings.Split(errorInfo(err).GetMetadata()["collections"], ",") {
		if c = strings.TrimSpace(c); c != "" {
			names = append(names, c)
		}
	}
	return true, names
}

// retryable says whether a failed call may succeed if sent again (§9.6).
func retryable(err error) bool {
	switch connect.CodeOf(err) {
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded, connect.CodeInternal, connect.CodeUnknown, connect.CodeAborted:
		return true
	case connect.CodeResourceExhausted:
		return reasonOf(err) != reasonTooLarge
	}
	return false
}

// backoff is an exponential backoff with jitter (§9.6).
type backoff struct {
	base, max time.Duration
}

// delay is the wait before retry number attempt (1, 2, ...): base doubled
// per attempt, capped at max, half of it random so that clients failing
// together do not retry together.
func (b backoff) delay(attempt int) time.Duration {
	d := b.base
	for i := 1; i < attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	half := d / 2
	return half + rand.N(half+1)
}

// sleep waits d or until ctx ends; it reports whether the wait was whole.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// callPolicy is how a unary call is retried: up to attempts calls, each
// bounded by timeout. A call that still fails is reported; the caller's
// state (outbox, checkpoint) is left as it was, for the next sync.
type callPolicy struct {
	attempts int
	timeout  time.Duration
	backoff  backoff
}

var defaultCallPolicy = callPolicy{attempts: 6, timeout: 30 * time.Second, backoff: backoff{base: 100 * time.Millisecond, max: 5 * time.Second}}

// retry runs call until it succeeds, fails for good, or runs out of attempts.
// The caller builds the request once, so that every attempt sends the same
// client sequences (§9.1).
func retry[T any](ctx context.Context, p callPolicy, call func(context.Context) (T, error)) (T, error) {
	var zero T
	for attempt := 1; ; attempt++ {
		callCtx, cancel := context.WithTimeout(ctx, p.timeout)
		out, err := call(callCtx)
		cancel()
		if err == nil {
			return out, nil
		}
		if ctx.Err() != nil {
			return zero, ctx.Err()
		}
		if !retryable(err) || attempt >= p.attempts {
			return zero, err
		}
		if !sleep(ctx, p.backoff.delay(attempt)) {
			return zero, ctx.Err()
		}
	}
}

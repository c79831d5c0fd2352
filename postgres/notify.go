package postgres

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// checksChannel is the channel CreateCheck notifies, in the same
// transaction as the check, and WatchChecks listens on.
const checksChannel = "facevault_checks"

// watchRetry is how long WatchChecks waits before connecting again after
// its connection failed.
const watchRetry = time.Second

// WatchChecks returns a channel that receives a value soon after any node
// of the database creates a check, so that a runner on this node can take
// it at once rather than at its next poll. Notices are coalesced: one value
// may stand for several checks, and none is sent while the receiver is
// busy (it then finds them all when it next claims). It listens on a
// connection of its own, outside the pool, opened again after a failure;
// while it has none, runners fall back on their poll. It stops when ctx is
// done, and closes the channel.
func (db *DB) WatchChecks(ctx context.Context, logger *slog.Logger) <-chan struct{} {
	ch := make(chan struct{}, 1)
	go func() {
		defer close(ch)
		for ctx.Err() == nil {
			err := db.listen(ctx, ch)
			if ctx.Err() != nil {
				return
			}
			logger.WarnContext(ctx, "listening for new checks failed; runners poll until it is back", "err", err, "retryIn", watchRetry.String())
			select {
			case <-ctx.Done():
				return
			case <-time.After(watchRetry):
			}
		}
	}()
	return ch
}

// listen holds one LISTEN connection until it fails or ctx is done,
// passing each notice on to ch without waiting. A value is sent once the
// connection listens, too: a check created while no connection listened
// is found at once.
func (db *DB) listen(ctx context.Context, ch chan<- struct{}) error {
	conn, err := pgx.ConnectConfig(ctx, db.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+checksChannel); err != nil {
		return err
	}
	for {
		select {
		case ch <- struct{}{}:
		default:
		}
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
	}
}

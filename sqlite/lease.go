package sqlite

import (
	"context"
	"fmt"
	"time"
)

// AcquireLease takes or renews the lease name for holder until now+ttl. It
// reports false, without error, while another holder's lease is unexpired.
func (db *DB) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	res, err := db.write.ExecContext(ctx, `
		INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= ?`,
		name, holder, ms(now.Add(ttl)), ms(now))
	if err != nil {
		return false, fmt.Errorf("sqlite: acquire lease %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlite: acquire lease %s: %w", name, err)
	}
	return n == 1, nil
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/facevault/facevault"
)

// consoleUserColumns are the columns scanConsoleUser reads.
const consoleUserColumns = `id, name, role, password_hash, disabled, failed_sign_ins, locked_until, created_at, updated_at`

func scanConsoleUser(row pgx.Row) (*facevault.ConsoleUser, error) {
	var (
		u      facevault.ConsoleUser
		role   string
		locked *time.Time
	)
	if err := row.Scan(&u.ID, &u.Name, &role, &u.PasswordHash, &u.Disabled, &u.FailedSignIns, &locked, &u.CreatedAt, &u.UpdatedAt); err != nil {
		return nil, err
	}
	u.Role, u.LockedUntil = facevault.ConsoleRole(role), fromNull(locked)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return &u, nil
}

// CreateConsoleUser stores u; an error wrapping facevault.ErrExist if a
// user has its name (or id).
func (db *DB) CreateConsoleUser(ctx context.Context, u *facevault.ConsoleUser) error {
	if !storable(u.ID) || !storable(u.Name) || !storable(u.PasswordHash) {
		return fmt.Errorf("postgres: create console user: id, name or hash not storable text")
	}
	if _, err := db.pool.Exec(ctx, `
		INSERT INTO console_users (`+consoleUserColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		u.ID, u.Name, string(u.Role), u.PasswordHash, u.Disabled, u.FailedSignIns, nullMS(u.LockedUntil), ms(u.CreatedAt), ms(u.UpdatedAt),
	); pgCode(err) == uniqueViolation {
		return fmt.Errorf("postgres: create console user %q: %w", u.Name, facevault.ErrExist)
	} else if err != nil {
		return fmt.Errorf("postgres: create console user %q: %w", u.Name, err)
	}
	u.LockedUntil, u.CreatedAt, u.UpdatedAt = ms(u.LockedUntil), ms(u.CreatedAt), ms(u.UpdatedAt)
	return nil
}

func (db *DB) consoleUserWhere(ctx context.Context, op, where, arg string) (*facevault.ConsoleUser, error) {
	if !storable(arg) {
		return nil, fmt.Errorf("postgres: %s %q: %w", op, arg, facevault.ErrNotFound)
	}
	u, err := scanConsoleUser(db.pool.QueryRow(ctx, `SELECT `+consoleUserColumns+` FROM console_users WHERE `+where, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: %s %q: %w", op, arg, facevault.ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("postgres: %s %q: %w", op, arg, err)
	}
	return u, nil
}

// ConsoleUser returns the console user with that id, or an error wrapping
// facevault.ErrNotFound.
func (db *DB) ConsoleUser(ctx context.Context, id string) (*facevault.ConsoleUser, error) {
	return db.consoleUserWhere(ctx, "console user", "id = $1", id)
}

// ConsoleUserByName returns the console user with that name, or an error
// wrapping facevault.ErrNotFound.
func (db *DB) ConsoleUserByName(ctx context.Context, name string) (*facevault.ConsoleUser, error) {
	return db.consoleUserWhere(ctx, "console user by name", "name = $1", name)
}

// ConsoleUsers lists every console user, by name.
func (db *DB) ConsoleUsers(ctx context.Context) ([]*facevault.ConsoleUser, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+consoleUserColumns+` FROM console_users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: console users: %w", err)
	}
	users, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*facevault.ConsoleUser, error) { return scanConsoleUser(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: console users: %w", err)
	}
	return users, nil
}

// updateConsoleUser runs an UPDATE of one console user (id the last
// argument) and, if endSessions, deletes its sessions, in one transaction.
func (db *DB) updateConsoleUser(ctx context.Context, op, set string, endSessions bool, id string, args ...any) error {
	if !storable(id) {
		return fmt.Errorf("postgres: %s %q: %w", op, id, facevault.ErrNotFound)
	}
	return db.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE console_users SET `+set+fmt.Sprintf(` WHERE id = $%d`, len(args)+1), append(args, id)...)
		if err != nil {
			return fmt.Errorf("postgres: %s %s: %w", op, id, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: %s %s: %w", op, id, facevault.ErrNotFound)
		}
		if endSessions {
			if _, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE user_id = $1`, id); err != nil {
				return fmt.Errorf("postgres: %s %s: end sessions: %w", op, id, err)
			}
		}
		return nil
	})
}

// SetConsolePassword replaces the user's password hash, clears its failed
// sign-ins and lock-out, and ends its sessions.
func (db *DB) SetConsolePassword(ctx context.Context, id, hash string, now time.Time) error {
	return db.updateConsoleUser(ctx, "set console password",
		`password_hash = $1, failed_sign_ins = 0, locked_until = NULL, updated_at = $2`, true, id, hash, ms(now))
}

// SetConsoleUserDisabled disables or enables the user; disabling ends its
// sessions.
func (db *DB) SetConsoleUserDisabled(ctx context.Context, id string, disabled bool, now time.Time) error {
	return db.updateConsoleUser(ctx, "disable console user", `disabled = $1, updated_at = $2`, disabled, id, disabled, ms(now))
}

// ClearConsoleSignIns clears the user's failed sign-ins and lock-out.
func (db *DB) ClearConsoleSignIns(ctx context.Context, id string, now time.Time) error {
	return db.updateConsoleUser(ctx, "clear console sign-ins",
		`failed_sign_ins = 0, locked_until = NULL, updated_at = $1`, false, id, ms(now))
}

// DeleteConsoleUser deletes the user and, by the foreign key, its
// sessions.
func (db *DB) DeleteConsoleUser(ctx context.Context, id string) error {
	if !storable(id) {
		return fmt.Errorf("postgres: delete console user %q: %w", id, facevault.ErrNotFound)
	}
	tag, err := db.pool.Exec(ctx, `DELETE FROM console_users WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("postgres: delete console user %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete console user %s: %w", id, facevault.ErrNotFound)
	}
	return nil
}

// FailConsoleSignIn counts a failed sign-in in one statement (the row
// lock serialises concurrent ones): the count reaching max locks the user
// out until now+lockFor and starts again.
func (db *DB) FailConsoleSignIn(ctx context.Context, id string, now time.Time, max int, lockFor time.Duration) (*facevault.ConsoleUser, error) {
	if !storable(id) {
		return nil, fmt.Errorf("postgres: fail console sign-in %q: %w", id, facevault.ErrNotFound)
	}
	u, err := scanConsoleUser(db.pool.QueryRow(ctx, `
		UPDATE console_users SET
			locked_until = CASE WHEN failed_sign_ins + 1 >= $1 THEN $2 ELSE locked_until END,
			failed_sign_ins = CASE WHEN failed_sign_ins + 1 >= $1 THEN 0 ELSE failed_sign_ins + 1 END,
			updated_at = $3
		WHERE id = $4
		RETURNING `+consoleUserColumns,
		max, ms(now.Add(lockFor)), ms(now), id,
	))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: fail console sign-in %s: %w", id, facevault.ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("postgres: fail console sign-in %s: %w", id, err)
	}
	return u, nil
}

// CreateConsoleSession stores s; an error wrapping facevault.ErrNotFound
// if its user does not exist.
func (db *DB) CreateConsoleSession(ctx context.Context, s *facevault.ConsoleSession) error {
	if !storable(s.UserID) || !storable(s.Scope.AccountID) || !storable(string(s.Scope.Mode)) {
		return fmt.Errorf("postgres: create console session of %q: %w", s.UserID, facevault.ErrNotFound)
	}
	if _, err := db.pool.Exec(ctx, `
		INSERT INTO console_sessions (hash, user_id, account_id, mode, created_at, last_seen_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		s.Hash, s.UserID, s.Scope.AccountID, string(s.Scope.Mode), ms(s.CreatedAt), ms(s.LastSeenAt),
	); pgCode(err) == foreignKeyViolation {
		return fmt.Errorf("postgres: create console session of %s: %w", s.UserID, facevault.ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("postgres: create console session of %s: %w", s.UserID, err)
	}
	s.CreatedAt, s.LastSeenAt = ms(s.CreatedAt), ms(s.LastSeenAt)
	return nil
}

// ConsoleSession returns the session whose token has that hash, or an
// error wrapping facevault.ErrNotFound.
func (db *DB) ConsoleSession(ctx context.Context, hash []byte) (*facevault.ConsoleSession, error) {
	var (
		s    facevault.ConsoleSession
		mode string
	)
	err := db.pool.QueryRow(ctx, `
		SELECT hash, user_id, account_id, mode, created_at, last_seen_at FROM console_sessions WHERE hash = $1`, hash,
	).Scan(&s.Hash, &s.UserID, &s.Scope.AccountID, &mode, &s.CreatedAt, &s.LastSeenAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: console session: %w", facevault.ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("postgres: console session: %w", err)
	}
	s.Scope.Mode, s.CreatedAt, s.LastSeenAt = facevault.Mode(mode), s.CreatedAt.UTC(), s.LastSeenAt.UTC()
	return &s, nil
}

// updateSession runs an UPDATE of the session with that hash, given as
// the last argument.
func (db *DB) updateSession(ctx context.Context, op, set string, args ...any) error {
	tag, err := db.pool.Exec(ctx, `UPDATE console_sessions SET `+set+fmt.Sprintf(` WHERE hash = $%d`, len(args)), args...)
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: %w", op, facevault.ErrNotFound)
	}
	return nil
}

// TouchConsoleSession records that the session was used at now.
func (db *DB) TouchConsoleSession(ctx context.Context, hash []byte, now time.Time) error {
	return db.updateSession(ctx, "touch console session", `last_seen_at = greatest(last_seen_at, $1)`, ms(now), hash)
}

// SetConsoleSessionScope records the account and mode the session works
// in.
func (db *DB) SetConsoleSessionScope(ctx context.Context, hash []byte, s facevault.Scope, now time.Time) error {
	if !storable(s.AccountID) || !storable(string(s.Mode)) {
		return fmt.Errorf("postgres: set console session scope: account or mode not storable text")
	}
	return db.updateSession(ctx, "set console session scope", `account_id = $1, mode = $2, last_seen_at = greatest(last_seen_at, $3)`,
		s.AccountID, string(s.Mode), ms(now), hash)
}

// DeleteConsoleSession deletes the session, if it exists.
func (db *DB) DeleteConsoleSession(ctx context.Context, hash []byte) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM console_sessions WHERE hash = $1`, hash); err != nil {
		return fmt.Errorf("postgres: delete console session: %w", err)
	}
	return nil
}

// DeleteStaleConsoleSessions deletes the sessions last used before
// idleBefore or created before createdBefore.
func (db *DB) DeleteStaleConsoleSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `
		DELETE FROM console_sessions WHERE last_seen_at < $1 OR created_at < $2`, ms(idleBefore), ms(createdBefore))
	if err != nil {
		return 0, fmt.Errorf("postgres: delete stale console sessions: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/facevault/facevault"
)

// consoleUserColumns are the columns scanConsoleUser reads.
const consoleUserColumns = `id, name, role, password_hash, disabled, failed_sign_ins, locked_until, created_at, updated_at`

func scanConsoleUser(sc scanner) (*facevault.ConsoleUser, error) {
	var (
		u                facevault.ConsoleUser
		locked           sql.NullInt64
		created, updated int64
	)
	if err := sc.Scan(&u.ID, &u.Name, &u.Role, &u.PasswordHash, &u.Disabled, &u.FailedSignIns, &locked, &created, &updated); err != nil {
		return nil, err
	}
	u.LockedUntil, u.CreatedAt, u.UpdatedAt = fromNullMS(locked), fromMS(created), fromMS(updated)
	return &u, nil
}

// isUniqueError reports whether err is SQLite's unique constraint failure.
func isUniqueError(err error) bool {
	var e *modernc.Error
	return errors.As(err, &e) && (e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// CreateConsoleUser stores u; an error wrapping facevault.ErrExist if a
// user has its name (or id).
func (db *DB) CreateConsoleUser(ctx context.Context, u *facevault.ConsoleUser) error {
	if _, err := db.write.ExecContext(ctx, `
		INSERT INTO console_users (`+consoleUserColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Name, string(u.Role), u.PasswordHash, u.Disabled, u.FailedSignIns, nullMS(u.LockedUntil), ms(u.CreatedAt), ms(u.UpdatedAt),
	); isUniqueError(err) {
		return fmt.Errorf("sqlite: create console user %q: %w", u.Name, facevault.ErrExist)
	} else if err != nil {
		return fmt.Errorf("sqlite: create console user %q: %w", u.Name, err)
	}
	u.LockedUntil, u.CreatedAt, u.UpdatedAt = truncMS(u.LockedUntil), truncMS(u.CreatedAt), truncMS(u.UpdatedAt)
	return nil
}

func (db *DB) consoleUserWhere(ctx context.Context, op, where string, arg any) (*facevault.ConsoleUser, error) {
	u, err := scanConsoleUser(db.read.QueryRowContext(ctx, `SELECT `+consoleUserColumns+` FROM console_users WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: %s %v: %w", op, arg, facevault.ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: %s %v: %w", op, arg, err)
	}
	return u, nil
}

// ConsoleUser returns the console user with that id, or an error wrapping
// facevault.ErrNotFound.
func (db *DB) ConsoleUser(ctx context.Context, id string) (*facevault.ConsoleUser, error) {
	return db.consoleUserWhere(ctx, "console user", "id = ?", id)
}

// ConsoleUserByName returns the console user with that name, or an error
// wrapping facevault.ErrNotFound.
func (db *DB) ConsoleUserByName(ctx context.Context, name string) (*facevault.ConsoleUser, error) {
	return db.consoleUserWhere(ctx, "console user by name", "name = ?", name)
}

// ConsoleUsers lists every console user, by name.
func (db *DB) ConsoleUsers(ctx context.Context) ([]*facevault.ConsoleUser, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+consoleUserColumns+` FROM console_users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: console users: %w", err)
	}
	defer rows.Close()
	users := []*facevault.ConsoleUser{}
	for rows.Next() {
		u, err := scanConsoleUser(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: console users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: console users: %w", err)
	}
	return users, nil
}

// updateConsoleUser runs an UPDATE of one console user (id the last
// argument) and, if endSessions, deletes its sessions, in one transaction.
func (db *DB) updateConsoleUser(ctx context.Context, op, set string, endSessions bool, args ...any) error {
	return db.inWrite(ctx, op, func(tx *sql.Tx) error {
		id := args[len(args)-1]
		res, err := tx.ExecContext(ctx, `UPDATE console_users SET `+set+` WHERE id = ?`, args...)
		if err != nil {
			return fmt.Errorf("sqlite: %s %v: %w", op, id, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: %s %v: %w", op, id, err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: %s %v: %w", op, id, facevault.ErrNotFound)
		}
		if endSessions {
			if _, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE user_id = ?`, id); err != nil {
				return fmt.Errorf("sqlite: %s %v: end sessions: %w", op, id, err)
			}
		}
		return nil
	})
}

// SetConsolePassword replaces the user's password hash, clears its failed
// sign-ins and lock-out, and ends its sessions.
func (db *DB) SetConsolePassword(ctx context.Context, id, hash string, now time.Time) error {
	return db.updateConsoleUser(ctx, "set console password",
		`password_hash = ?, failed_sign_ins = 0, locked_until = NULL, updated_at = ?`, true, hash, ms(now), id)
}

// SetConsoleUserDisabled disables or enables the user; disabling ends its
// sessions.
func (db *DB) SetConsoleUserDisabled(ctx context.Context, id string, disabled bool, now time.Time) error {
	return db.updateConsoleUser(ctx, "disable console user", `disabled = ?, updated_at = ?`, disabled, disabled, ms(now), id)
}

// ClearConsoleSignIns clears the user's failed sign-ins and lock-out.
func (db *DB) ClearConsoleSignIns(ctx context.Context, id string, now time.Time) error {
	return db.updateConsoleUser(ctx, "clear console sign-ins",
		`failed_sign_ins = 0, locked_until = NULL, updated_at = ?`, false, ms(now), id)
}

// DeleteConsoleUser deletes the user and, by the foreign key, its
// sessions.
func (db *DB) DeleteConsoleUser(ctx context.Context, id string) error {
	res, err := db.write.ExecContext(ctx, `DELETE FROM console_users WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlite: delete console user %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: delete console user %s: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: delete console user %s: %w", id, facevault.ErrNotFound)
	}
	return nil
}

// FailConsoleSignIn counts a failed sign-in in one statement: the count
// reaching max locks the user out until now+lockFor and starts again.
func (db *DB) FailConsoleSignIn(ctx context.Context, id string, now time.Time, max int, lockFor time.Duration) (*facevault.ConsoleUser, error) {
	u, err := scanConsoleUser(db.write.QueryRowContext(ctx, `
		UPDATE console_users SET
			locked_until = CASE WHEN failed_sign_ins + 1 >= ?1 THEN ?2 ELSE locked_until END,
			failed_sign_ins = CASE WHEN failed_sign_ins + 1 >= ?1 THEN 0 ELSE failed_sign_ins + 1 END,
			updated_at = ?3
		WHERE id = ?4
		RETURNING `+consoleUserColumns,
		max, ms(now.Add(lockFor)), ms(now), id,
	))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: fail console sign-in %s: %w", id, facevault.ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: fail console sign-in %s: %w", id, err)
	}
	return u, nil
}

// CreateConsoleSession stores s; an error wrapping facevault.ErrNotFound
// if its user does not exist.
func (db *DB) CreateConsoleSession(ctx context.Context, s *facevault.ConsoleSession) error {
	if _, err := db.write.ExecContext(ctx, `
		INSERT INTO console_sessions (hash, user_id, account_id, mode, created_at, last_seen_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
		s.Hash, s.UserID, s.Scope.AccountID, string(s.Scope.Mode), ms(s.CreatedAt), ms(s.LastSeenAt),
	); isForeignKeyError(err) {
		return fmt.Errorf("sqlite: create console session of %s: %w", s.UserID, facevault.ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("sqlite: create console session of %s: %w", s.UserID, err)
	}
	s.CreatedAt, s.LastSeenAt = truncMS(s.CreatedAt), truncMS(s.LastSeenAt)
	return nil
}

// ConsoleSession returns the session whose token has that hash, or an
// error wrapping facevault.ErrNotFound.
func (db *DB) ConsoleSession(ctx context.Context, hash []byte) (*facevault.ConsoleSession, error) {
	var (
		s             facevault.ConsoleSession
		mode          string
		created, seen int64
	)
	err := db.read.QueryRowContext(ctx, `
		SELECT hash, user_id, account_id, mode, created_at, last_seen_at FROM console_sessions WHERE hash = ?`, hash,
	).Scan(&s.Hash, &s.UserID, &s.Scope.AccountID, &mode, &created, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: console session: %w", facevault.ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: console session: %w", err)
	}
	s.Scope.Mode, s.CreatedAt, s.LastSeenAt = facevault.Mode(mode), fromMS(created), fromMS(seen)
	return &s, nil
}

// updateSession runs an UPDATE of the session with that hash (the last
// argument).
func (db *DB) updateSession(ctx context.Context, op, set string, args ...any) error {
	res, err := db.write.ExecContext(ctx, `UPDATE console_sessions SET `+set+` WHERE hash = ?`, args...)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: %s: %w", op, facevault.ErrNotFound)
	}
	return nil
}

// TouchConsoleSession records that the session was used at now.
func (db *DB) TouchConsoleSession(ctx context.Context, hash []byte, now time.Time) error {
	return db.updateSession(ctx, "touch console session", `last_seen_at = max(last_seen_at, ?)`, ms(now), hash)
}

// SetConsoleSessionScope records the account and mode the session works
// in.
func (db *DB) SetConsoleSessionScope(ctx context.Context, hash []byte, s facevault.Scope, now time.Time) error {
	return db.updateSession(ctx, "set console session scope", `account_id = ?, mode = ?, last_seen_at = max(last_seen_at, ?)`,
		s.AccountID, string(s.Mode), ms(now), hash)
}

// DeleteConsoleSession deletes the session, if it exists.
func (db *DB) DeleteConsoleSession(ctx context.Context, hash []byte) error {
	if _, err := db.write.ExecContext(ctx, `DELETE FROM console_sessions WHERE hash = ?`, hash); err != nil {
		return fmt.Errorf("sqlite: delete console session: %w", err)
	}
	return nil
}

// DeleteStaleConsoleSessions deletes the sessions last used before
// idleBefore or created before createdBefore.
func (db *DB) DeleteStaleConsoleSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int, error) {
	res, err := db.write.ExecContext(ctx, `
		DELETE FROM console_sessions WHERE last_seen_at < ? OR created_at < ?`, ms(idleBefore), ms(createdBefore))
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete stale console sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete stale console sessions: %w", err)
	}
	return int(n), nil
}

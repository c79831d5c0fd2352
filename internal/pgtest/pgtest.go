// Package pgtest gives tests a PostgreSQL database of their own.
//
// The server is the one FACEVAULT_TEST_POSTGRES names, by the URL of a
// superuser connection to an existing database (./scripts/test starts a
// server and sets it). Each call of URL creates a fresh, empty database and
// drops it when the test ends. There is no skipping: without a server the
// tests fail.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// EnvVar is the environment variable holding the admin URL.
const EnvVar = "FACEVAULT_TEST_POSTGRES"

// AdminURL returns the admin URL from FACEVAULT_TEST_POSTGRES, failing tb
// if it is not set.
func AdminURL(tb testing.TB) string {
	tb.Helper()
	admin := os.Getenv(EnvVar)
	if admin == "" {
		tb.Fatal(EnvVar + " is not set: run ./scripts/test, which starts PostgreSQL")
	}
	return admin
}

// URL creates a new, empty database named fv_<random> on the server of
// FACEVAULT_TEST_POSTGRES and returns the URL of a connection to it, as the
// same user. The database is dropped, with any connections still open to
// it, when tb ends. URL fails tb if the variable is not set or the database
// cannot be created.
func URL(tb testing.TB) string {
	tb.Helper()
	admin := AdminURL(tb)
	var b [8]byte
	rand.Read(b[:])
	name := "fv_" + hex.EncodeToString(b[:])
	dbURL, err := withDatabase(admin, name)
	if err != nil {
		tb.Fatalf("pgtest: %s: %v", EnvVar, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := exec(ctx, admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := exec(ctx, admin, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return dbURL
}

// exec runs one statement on a connection of its own to admin. CREATE
// DATABASE can fail while another session copies the template database at
// the same moment (object_in_use): exec retries that a few times.
func exec(ctx context.Context, admin, sql string) error {
	for attempt := 0; ; attempt++ {
		err := execOnce(ctx, admin, sql)
		var pgErr *pgconn.PgError
		if err == nil || attempt == 10 || !errors.As(err, &pgErr) || pgErr.Code != "55006" {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func execOnce(ctx context.Context, admin, sql string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase returns the connection string admin with the database
// changed to name. admin is a URL (postgres://...) or a keyword/value
// string.
func withDatabase(admin, name string) (string, error) {
	if strings.HasPrefix(admin, "postgres://") || strings.HasPrefix(admin, "postgresql://") {
		u, err := url.Parse(admin)
		if err != nil {
			return "", err
		}
		u.Path = "/" + name
		u.RawPath = ""
		q := u.Query()
		q.Del("dbname")
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	// In a keyword/value string, the last setting of a keyword wins.
	return admin + " dbname=" + name, nil
}

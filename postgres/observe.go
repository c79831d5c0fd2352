package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Option is a setting of Open.
type Option func(*options)

type options struct {
	observe func(op string, d time.Duration, err error)
}

// WithObserver makes the store tell observe of every statement it runs:
// its kind (the statement's first keyword, lower case: select, insert,
// update, delete, begin, commit, …; "other" beyond a known few), how long
// it took, and its error.
func WithObserver(observe func(op string, d time.Duration, err error)) Option {
	return func(o *options) { o.observe = observe }
}

// tracer is pgx's hook for WithObserver.
type tracer struct {
	observe func(op string, d time.Duration, err error)
}

type traceKey struct{}

type traceStart struct {
	op    string
	start time.Time
}

// TraceQueryStart implements pgx.QueryTracer.
func (t tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, traceKey{}, traceStart{statementKind(data.SQL), time.Now()})
}

// TraceQueryEnd implements pgx.QueryTracer.
func (t tracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	if s, ok := ctx.Value(traceKey{}).(traceStart); ok {
		t.observe(s.op, time.Since(s.start), data.Err)
	}
}

// statementKinds are the kinds statementKind names; any other is "other",
// so that the set of values stays small whatever SQL runs.
var statementKinds = map[string]bool{"select": true, "insert": true, "update": true, "delete": true, "with": true,
	"begin": true, "commit": true, "rollback": true, "lock": true, "listen": true, "copy": true}

// statementKind is the first keyword of sql, lower case, or "other".
func statementKind(sql string) string {
	f := strings.Fields(sql)
	for len(f) > 0 && strings.HasPrefix(f[0], "--") {
		f = f[1:]
	}
	if len(f) == 0 {
		return "other"
	}
	k := strings.ToLower(strings.TrimLeft(f[0], "("))
	if statementKinds[k] {
		return k
	}
	return "other"
}

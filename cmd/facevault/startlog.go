package main

import (
	"context"
	"flag"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
)

// secretFlagWords mark a flag whose value is a secret: its value is never
// logged, only whether it is set.
var secretFlagWords = []string{"secret", "password", "token", "credential"}

// configAttrs are the effective values of every flag of fs, as serve
// logs them at start: URLs without their passwords, secrets as "(set)".
func configAttrs(fs *flag.FlagSet) []any {
	var attrs []any
	fs.VisitAll(func(f *flag.Flag) {
		v := f.Value.String()
		name := strings.ToLower(f.Name)
		switch {
		case containsAny(name, secretFlagWords):
			if v != "" {
				v = "(set)"
			}
		case strings.Contains(v, "://"):
			v = redact(v)
		}
		attrs = append(attrs, slog.String(f.Name, v))
	})
	return attrs
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// versioned is a record store that reports its schema version.
type versioned interface {
	Version(ctx context.Context) (int64, error)
}

// buildVersion is the module version and VCS revision the binary was built
// from, as far as the build recorded them.
func buildVersion() (version, revision string) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown", ""
	}
	version = info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			revision = s.Value
		}
		if s.Key == "vcs.modified" && s.Value == "true" {
			revision += "+modified"
		}
	}
	return version, revision
}

// logVersions logs, once the stores are open, the versions of the binary,
// the record store's schema and the models.
func logVersions(ctx context.Context, logger *slog.Logger, db any, models map[string]string) {
	version, revision := buildVersion()
	attrs := []any{"version", version, "revision", revision, "go", runtime.Version()}
	if v, ok := db.(versioned); ok {
		if n, err := v.Version(ctx); err == nil {
			attrs = append(attrs, "schema", n)
		}
	}
	for _, k := range []string{"liveness", "faceEmbeddings", "ageEstimation"} {
		if m, ok := models[k]; ok {
			attrs = append(attrs, k+"Model", m)
		}
	}
	logger.InfoContext(ctx, "versions", attrs...)
}

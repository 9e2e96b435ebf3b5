// Package config reads typed settings from an environment lookup function, collecting every
// problem instead of stopping at the first, so that a misconfigured service says all that is
// wrong at once. Only a service's main hands it the real environment.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Env reads settings through getenv and remembers what was wrong.
type Env struct {
	getenv func(string) string
	errs   []error
}

// New returns an Env over getenv (os.Getenv in main, a map in tests).
func New(getenv func(string) string) *Env { return &Env{getenv: getenv} }

// String returns the value of key, or def when unset.
func (e *Env) String(key, def string) string {
	if v := strings.TrimSpace(e.getenv(key)); v != "" {
		return v
	}
	return def
}

// Duration returns key parsed as a Go duration (90s, 15m, 4h), or def when unset.
func (e *Env) Duration(key string, def time.Duration) time.Duration {
	v := e.String(key, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want a positive duration such as 90s, 15m or 4h", key, v))
		return def
	}
	return d
}

// Int returns key parsed as a whole number, or def when unset.
func (e *Env) Int(key string, def int) int {
	v := e.String(key, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want a whole number", key, v))
		return def
	}
	return n
}

// Bool returns key parsed as true/false (1/0, yes/no), or def when unset.
func (e *Env) Bool(key string, def bool) bool {
	switch strings.ToLower(e.String(key, "")) {
	case "":
		return def
	case "1", "true", "yes", "on":
		return true
	case "0", "false", "no", "off":
		return false
	}
	e.errs = append(e.errs, fmt.Errorf("%s=%q: want true or false", key, e.getenv(key)))
	return def
}

// Level returns key parsed as a log level (debug, info, warn, error), or info when unset.
func (e *Env) Level(key string) slog.Level {
	var l slog.Level
	if v := e.String(key, ""); v != "" {
		if err := l.UnmarshalText([]byte(v)); err != nil {
			e.errs = append(e.errs, fmt.Errorf("%s=%q: want debug, info, warn or error", key, v))
		}
	}
	return l
}

// List returns key split at commas, trimmed, empty items dropped.
func (e *Env) List(key string) []string {
	var out []string
	for _, s := range strings.Split(e.String(key, ""), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// PerUrgency reads one duration per urgency from PREFIX_EMERGENT, PREFIX_URGENT and
// PREFIX_ROUTINE, with defaults.
func (e *Env) PerUrgency(prefix string, emergent, urgent, routine time.Duration) map[string]time.Duration {
	return map[string]time.Duration{
		"emergent": e.Duration(prefix+"_EMERGENT", emergent),
		"urgent":   e.Duration(prefix+"_URGENT", urgent),
		"routine":  e.Duration(prefix+"_ROUTINE", routine),
	}
}

// Err returns everything that was wrong, or nil.
func (e *Env) Err() error { return errors.Join(e.errs...) }

// Retired records an error when a setting that no longer exists is still given, so that a
// deployment does not run on with a setting silently ignored; advice says what replaced it.
func (e *Env) Retired(key, advice string) {
	if e.String(key, "") != "" {
		e.errs = append(e.errs, fmt.Errorf("%s is no longer read: %s", key, advice))
	}
}

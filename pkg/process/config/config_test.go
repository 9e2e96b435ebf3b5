package config_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/process/config"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestServiceDefaultsAndValidation(t *testing.T) {
	e := config.New(env(map[string]string{"NATS_URL": "nats://n:4222", "REDIS_URL": "redis://r:6379/0"}))
	s := e.Service("127.0.0.1:8081")
	require.NoError(t, e.Err())
	require.NoError(t, s.Validate())
	assert.Equal(t, config.Service{Addr: "127.0.0.1:8081", NATSURL: "nats://n:4222", RedisURL: "redis://r:6379/0", Replicas: 1, LogLevel: slog.LevelInfo}, s)

	bad := config.New(env(map[string]string{"ADDR": "nohost", "STREAM_REPLICAS": "2", "LOG_LEVEL": "loud"}))
	s = bad.Service("127.0.0.1:8081")
	require.Error(t, bad.Err(), "LOG_LEVEL=loud")
	err := s.Validate()
	require.Error(t, err)
	for _, want := range []string{"NATS_URL is required", "REDIS_URL is required", "ADDR=", "STREAM_REPLICAS=2"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestTypedValues(t *testing.T) {
	tests := []struct {
		name    string
		vars    map[string]string
		wantErr bool
		check   func(t *testing.T, e *config.Env)
	}{
		{"durations per urgency", map[string]string{"STEP_WAIT_URGENT": "90s"}, false, func(t *testing.T, e *config.Env) {
			got := e.PerUrgency("STEP_WAIT", time.Minute, 2*time.Minute, 3*time.Minute)
			assert.Equal(t, map[string]time.Duration{"emergent": time.Minute, "urgent": 90 * time.Second, "routine": 3 * time.Minute}, got)
		}},
		{"bad duration", map[string]string{"D": "soon"}, true, func(t *testing.T, e *config.Env) { e.Duration("D", time.Second) }},
		{"negative duration", map[string]string{"D": "-1s"}, true, func(t *testing.T, e *config.Env) { e.Duration("D", time.Second) }},
		{"list", map[string]string{"L": " a, ,b "}, false, func(t *testing.T, e *config.Env) { assert.Equal(t, []string{"a", "b"}, e.List("L")) }},
		{"bool", map[string]string{"B": "yes"}, false, func(t *testing.T, e *config.Env) { assert.True(t, e.Bool("B", false)) }},
		{"bad bool", map[string]string{"B": "maybe"}, true, func(t *testing.T, e *config.Env) { e.Bool("B", false) }},
		{"bad int", map[string]string{"I": "three"}, true, func(t *testing.T, e *config.Env) { e.Int("I", 1) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := config.New(env(tc.vars))
			tc.check(t, e)
			if tc.wantErr {
				assert.Error(t, e.Err())
			} else {
				assert.NoError(t, e.Err())
			}
		})
	}
}

func TestSLABounds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		fail bool
	}{
		{map[string]string{}, false},
		{map[string]string{"SLA_RECOMMEND_ROUTINE": "240h"}, false},
		{map[string]string{"SLA_RECOMMEND_ROUTINE": "720h"}, true},
		{map[string]string{"SLA_ACCEPT_EMERGENT": "-1m"}, true},
	} {
		e := config.New(func(k string) string { return tc.env[k] })
		e.SLA()
		assert.Equal(t, tc.fail, e.Err() != nil, "env %v: got error %v", tc.env, e.Err())
	}
}

package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/process/config"
)

func TestSessionsPerUser(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value string
		want  int
		fail  bool
	}{
		{"", 20, false},
		{"5", 5, false},
		{"0", 0, true},
		{"-3", 0, true},
		{"1001", 0, true},
		{"many", 0, true},
	} {
		e := config.New(env(map[string]string{"SESSIONS_PER_USER": tc.value}))
		got := e.Sessions().PerUser
		assert.Equal(t, tc.fail, e.Err() != nil, "SESSIONS_PER_USER=%q: got error %v", tc.value, e.Err())
		if !tc.fail {
			assert.Equal(t, tc.want, got, "SESSIONS_PER_USER=%q: got %d, want %d", tc.value, got, tc.want)
		}
	}
}

func TestBudgets(t *testing.T) {
	t.Parallel()
	e := config.New(env(map[string]string{}))
	got := e.Budgets()
	require.NoError(t, e.Err())
	assert.Equal(t, config.Budgets{
		Submissions:         config.Budget{Limit: 30, Window: 10 * time.Minute},
		EmergentSubmissions: config.Budget{Limit: 10, Window: 10 * time.Minute},
		Messages:            config.Budget{Limit: 120, Window: time.Minute},
		Uploads:             config.Budget{Limit: 60, Window: 10 * time.Minute},
		SocketsPerUser:      20, SocketsPerSession: 10,
	}, got, "got defaults %+v", got)

	e = config.New(env(map[string]string{"BUDGET_MESSAGES": "10", "BUDGET_MESSAGES_WINDOW": "30s", "BUDGET_STREAM_SOCKETS": "4",
		"BUDGET_STREAM_SOCKETS_PER_SESSION": "2"}))
	got = e.Budgets()
	require.NoError(t, e.Err())
	assert.Equal(t, config.Budget{Limit: 10, Window: 30 * time.Second}, got.Messages)
	assert.Equal(t, 4, got.SocketsPerUser)
	assert.Equal(t, 2, got.SocketsPerSession)

	for _, bad := range []map[string]string{
		{"BUDGET_SUBMISSIONS": "0"},
		{"BUDGET_SUBMISSIONS": "-1"},
		{"BUDGET_SUBMISSIONS": "lots"},
		{"BUDGET_EMERGENT_SUBMISSIONS": "1000001"},
		{"BUDGET_UPLOADS_WINDOW": "0s"},
		{"BUDGET_UPLOADS_WINDOW": "soon"},
		{"BUDGET_MESSAGES_WINDOW": "25h"},
		{"BUDGET_STREAM_SOCKETS": "0"},
		{"BUDGET_STREAM_SOCKETS": "5", "BUDGET_STREAM_SOCKETS_PER_SESSION": "6"},
	} {
		e := config.New(env(bad))
		e.Budgets()
		assert.Error(t, e.Err(), "%v: got no error", bad)
	}
}

package config_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

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

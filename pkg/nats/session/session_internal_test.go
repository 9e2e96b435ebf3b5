package session

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/regionalconsult/broker/pkg/roster"
)

// An unknown username is checked against a hash of the same cost as the roster's own, so that
// the answer takes as long as for a known one and does not tell which names exist.
func TestDummyHashHasTheRostersCost(t *testing.T) {
	r, err := roster.Parse(roster.DemoJSON())
	require.NoError(t, err)
	stored, err := bcrypt.Cost([]byte(r.Users[0].PasswordHash))
	require.NoError(t, err)
	assert.Equal(t, stored, storedCost(r), "got cost %d, want the roster's %d", storedCost(r), stored)
	got, err := bcrypt.Cost(dummyHash(storedCost(r)))
	require.NoError(t, err)
	assert.Equal(t, stored, got, "got a dummy hash of cost %d, want %d", got, stored)
	empty, err := roster.Parse([]byte(`{}`))
	require.NoError(t, err)
	assert.Equal(t, defaultCost, storedCost(empty))
}

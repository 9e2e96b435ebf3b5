package readmodel_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/redis/readmodel"
)

var (
	coord    = consult.Actor{ID: "u-coord1", Role: consult.RoleCoordinator}
	hebron   = consult.Actor{ID: "u-referrer1", Role: consult.RoleReferrer, ClinicID: "hebron"}
	gaza     = consult.Actor{ID: "u-referrer2", Role: consult.RoleReferrer, ClinicID: "gaza-city"}
	onc1     = consult.Actor{ID: "u-onc1", Role: consult.RoleSpecialist}
	onc2     = consult.Actor{ID: "u-onc2", Role: consult.RoleSpecialist}
	policy   = consult.Policy{KnownSpecialty: func(string) bool { return true }, AcceptWithin: map[string]time.Duration{"urgent": time.Hour}}
	sevenAge = 7
)

func newConsult(t *testing.T, by consult.Actor, urgency string) *consult.Consult {
	t.Helper()
	e, err := consult.Submit(by, consult.Draft{Urgency: urgency, Specialty: "pediatric-oncology",
		Patient: &consult.DraftPatient{AgeYears: &sevenAge, Sex: "female"}, Question: "q"}, ulid.Make().String(), "", policy, time.Now())
	require.NoError(t, err)
	e.ID = ulid.Make().String()
	c, err := consult.Apply(nil, e)
	require.NoError(t, err)
	return c
}

func step(t *testing.T, c *consult.Consult, e event.Event, err error) *consult.Consult {
	t.Helper()
	require.NoError(t, err)
	next, err := consult.Apply(c, e)
	require.NoError(t, err)
	return next
}

// The same contract holds for a real redis-server and for the in-process server.
func TestStoreContract(t *testing.T) {
	for kind, url := range testenv.RedisKinds(t) {
		t.Run(kind, func(t *testing.T) {
			rdb, err := readmodel.Dial(url)
			require.NoError(t, err)
			defer rdb.Close()
			prefix := fmt.Sprintf("t%d:", time.Now().UnixNano())
			s := readmodel.New(rdb, prefix)
			t.Run("ProjectIsOrderTolerant", func(t *testing.T) { projectOrder(t, s) })
			t.Run("ListScopesFiltersAndPages", func(t *testing.T) { listScopes(t, readmodel.New(rdb, prefix+"list:")) })
			t.Run("IdempotencyClaims", func(t *testing.T) { claims(t, s) })
		})
	}
}

func projectOrder(t *testing.T, s *readmodel.Store) {
	ctx := context.Background()
	c1 := newConsult(t, hebron, "urgent")
	now := time.Now()
	e, err := c1.OfferTo([]string{"u-onc1"}, 1, 1, now.Add(time.Minute), now)
	c2 := step(t, c1, e, err)
	e, err = c2.Accept(onc1, now)
	c3 := step(t, c2, e, err)

	require.NoError(t, s.Project(ctx, c3))
	require.NoError(t, s.Project(ctx, c1)) // late and stale: must not win
	require.NoError(t, s.Project(ctx, c2))
	got, _, err := s.List(ctx, onc1, readmodel.Filter{}, "", 10)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, consult.StatusAccepted, got[0].Status, "got %s, want the newest state", got[0].Status)
	got, _, err = s.List(ctx, onc2, readmodel.Filter{}, "", 10)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func listScopes(t *testing.T, s *readmodel.Store) {
	ctx := context.Background()
	var hebronIDs []string
	for i := range 7 {
		by, urgency := hebron, "urgent"
		if i%3 == 0 {
			by, urgency = gaza, "routine"
		}
		c := newConsult(t, by, urgency)
		if by == hebron {
			hebronIDs = append([]string{c.ID}, hebronIDs...) // newest first
		}
		if i == 1 {
			e, err := c.OfferTo([]string{"u-onc2"}, 1, 1, time.Now().Add(time.Minute), time.Now())
			c = step(t, c, e, err)
		}
		require.NoError(t, s.Project(ctx, c))
		time.Sleep(2 * time.Millisecond) // distinct ULID milliseconds, so order is by creation
	}
	all, next, err := s.List(ctx, coord, readmodel.Filter{}, "", 50)
	require.NoError(t, err)
	assert.Len(t, all, 7)
	assert.Empty(t, next)

	var paged []string
	cursor := ""
	for range 10 {
		page, next, err := s.List(ctx, hebron, readmodel.Filter{}, cursor, 2)
		require.NoError(t, err)
		for _, c := range page {
			paged = append(paged, c.ID)
			assert.Equal(t, "hebron", c.ClinicID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	assert.Equal(t, hebronIDs, paged, "pages of hebron's list, newest first")

	offered, _, err := s.List(ctx, coord, readmodel.Filter{Status: consult.StatusOffered}, "", 50)
	require.NoError(t, err)
	require.Len(t, offered, 1)
	mine, _, err := s.List(ctx, onc2, readmodel.Filter{}, "", 50)
	require.NoError(t, err)
	require.Len(t, mine, 1)
	assert.Equal(t, offered[0].ID, mine[0].ID)
	routine, _, err := s.List(ctx, gaza, readmodel.Filter{Urgency: "routine"}, "", 50)
	require.NoError(t, err)
	assert.Len(t, routine, 3)
	none, _, err := s.List(ctx, consult.Actor{ID: "u-admin1", Role: consult.RoleAdmin}, readmodel.Filter{}, "", 50)
	require.NoError(t, err)
	assert.Empty(t, none, "administrators see no clinical records")
}

func claims(t *testing.T, s *readmodel.Store) {
	ctx := context.Background()
	first, err := s.Claim(ctx, "u-referrer1", "k1", "A")
	require.NoError(t, err)
	assert.True(t, first.Claimed)
	second, err := s.Claim(ctx, "u-referrer1", "k1", "B")
	require.NoError(t, err)
	assert.Equal(t, readmodel.Claim{ExistingID: "A", Pending: true}, second)
	other, err := s.Claim(ctx, "u-referrer3", "k1", "C")
	require.NoError(t, err)
	assert.True(t, other.Claimed, "keys are per user")

	require.NoError(t, s.Confirm(ctx, "u-referrer1", "k1", "A", time.Now()))
	third, err := s.Claim(ctx, "u-referrer1", "k1", "D")
	require.NoError(t, err)
	assert.Equal(t, readmodel.Claim{ExistingID: "A"}, third)

	require.NoError(t, s.Release(ctx, "u-referrer3", "k1", "not-mine"))
	again, err := s.Claim(ctx, "u-referrer3", "k1", "E")
	require.NoError(t, err)
	assert.False(t, again.Claimed, "a release by another claim must not free the key")
	require.NoError(t, s.Release(ctx, "u-referrer3", "k1", "C"))
	freed, err := s.Claim(ctx, "u-referrer3", "k1", "F")
	require.NoError(t, err)
	assert.True(t, freed.Claimed)
}

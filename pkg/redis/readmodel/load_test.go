package readmodel_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/redis/readmodel"
)

// loadStory collects the consult states one case projects, in the order it projects them; its
// events run on a clock of their own, a second apart.
type loadStory struct {
	t   *testing.T
	at  time.Time
	out []*consult.Consult
}

// tick moves the story's clock on by d and returns it.
func (s *loadStory) tick(d time.Duration) time.Time {
	s.at = s.at.Add(d)
	return s.at
}

// project queues c to be projected.
func (s *loadStory) project(c *consult.Consult) *consult.Consult {
	s.out = append(s.out, c)
	return c
}

func (s *loadStory) offered(c *consult.Consult, ids ...string) *consult.Consult {
	s.t.Helper()
	now := s.tick(time.Second)
	e, err := c.OfferTo(ids, 1, 1, now.Add(time.Minute), now)
	return step(s.t, c, e, err)
}

func (s *loadStory) accepted(c *consult.Consult, who consult.Actor) *consult.Consult {
	s.t.Helper()
	e, err := c.Accept(who, s.tick(time.Second))
	return step(s.t, c, e, err)
}

func (s *loadStory) declined(c *consult.Consult, who consult.Actor) *consult.Consult {
	s.t.Helper()
	e, err := c.Decline(who, "busy", s.tick(time.Second))
	return step(s.t, c, e, err)
}

func (s *loadStory) expired(c *consult.Consult) *consult.Consult {
	s.t.Helper()
	e, err := c.ExpireOffer(c.Offers[0].Position, c.Offers[0].ExpiresAt)
	return step(s.t, c, e, err)
}

func (s *loadStory) completed(c *consult.Consult, who consult.Actor) *consult.Consult {
	s.t.Helper()
	e, err := c.Complete(who, "rest and fluids", s.tick(time.Second))
	return step(s.t, c, e, err)
}

func (s *loadStory) infoRequested(c *consult.Consult, who consult.Actor) *consult.Consult {
	s.t.Helper()
	e, err := c.RequestInfo(who, fmt.Sprintf("m%d", len(c.Events)), "which dose?", s.tick(time.Second))
	return step(s.t, c, e, err)
}

// The same contract holds for a real redis-server and for the in-process server.
func TestLoad(t *testing.T) {
	for kind, url := range testenv.RedisKinds(t) {
		t.Run(kind, func(t *testing.T) {
			rdb, err := readmodel.Dial(url)
			require.NoError(t, err)
			defer rdb.Close()
			testLoad(t, func(prefix string) *readmodel.Store { return readmodel.New(rdb, prefix) })
			got, err := readmodel.New(rdb, "nobody:").Load(context.Background(), nil)
			require.NoError(t, err, "the load of nobody")
			assert.Empty(t, got)
		})
	}
}

func testLoad(t *testing.T, store func(prefix string) *readmodel.Store) {
	ids := []string{onc1.ID, onc2.ID}
	tests := []struct {
		name  string
		story func(s *loadStory)
		// want is the load of onc1 and onc2.
		want map[string]load
	}{
		{name: "nobody has done anything",
			story: func(s *loadStory) {},
			want:  map[string]load{onc1.ID: {}, onc2.ID: {}}},
		{name: "owned open consults count, whether accepted or waiting for information",
			story: func(s *loadStory) {
				s.project(s.accepted(s.offered(newConsult(t, hebron, "urgent"), onc1.ID), onc1))
				s.project(s.infoRequested(s.accepted(s.offered(newConsult(t, hebron, "urgent"), onc1.ID), onc1), onc1))
				s.project(s.accepted(s.offered(newConsult(t, hebron, "urgent"), onc2.ID), onc2))
			},
			want: map[string]load{onc1.ID: {Open: 2, active: 5}, onc2.ID: {Open: 1, active: 7}}},
		{name: "completed consults do not count",
			story: func(s *loadStory) {
				c := s.project(s.accepted(s.offered(newConsult(t, hebron, "urgent"), onc1.ID), onc1))
				s.project(s.completed(c, onc1))
				s.project(s.accepted(s.offered(newConsult(t, hebron, "urgent"), onc1.ID), onc1))
			},
			want: map[string]load{onc1.ID: {Open: 1, active: 5}, onc2.ID: {}}},
		{name: "live offers held count, a parallel offer for each holder",
			story: func(s *loadStory) {
				s.project(s.offered(newConsult(t, hebron, "urgent"), onc1.ID))
				s.project(s.offered(newConsult(t, hebron, "emergent"), onc1.ID, onc2.ID))
			},
			want: map[string]load{onc1.ID: {Held: 2}, onc2.ID: {Held: 1}}},
		{name: "an offer stops counting once declined, expired or accepted",
			story: func(s *loadStory) {
				c := s.project(s.offered(newConsult(t, hebron, "emergent"), onc1.ID, onc2.ID))
				s.project(s.declined(c, onc2))
				c = s.project(s.offered(newConsult(t, hebron, "urgent"), onc2.ID))
				s.project(s.expired(c))
				c = s.project(s.offered(newConsult(t, hebron, "urgent"), onc2.ID))
				s.project(s.accepted(c, onc2))
			},
			want: map[string]load{onc1.ID: {Held: 1}, onc2.ID: {Open: 1, active: 5}}},
		{name: "a parallel offer one holder took stops counting for the others",
			story: func(s *loadStory) {
				c := s.project(s.offered(newConsult(t, hebron, "emergent"), onc1.ID, onc2.ID))
				s.project(s.accepted(c, onc1))
			},
			want: map[string]load{onc1.ID: {Open: 1, active: 2}, onc2.ID: {}}},
		{name: "a stale snapshot projected late changes nothing",
			story: func(s *loadStory) {
				offered := s.offered(newConsult(t, hebron, "urgent"), onc1.ID)
				s.project(s.accepted(offered, onc1))
				s.project(offered)
			},
			want: map[string]load{onc1.ID: {Open: 1, active: 2}, onc2.ID: {}}},
		{name: "last activity moves forward only",
			story: func(s *loadStory) {
				early := s.accepted(s.offered(newConsult(t, hebron, "urgent"), onc1.ID), onc1)
				late := s.accepted(s.offered(newConsult(t, hebron, "urgent"), onc1.ID), onc1)
				s.project(late)
				s.project(early) // newer for its own consult, older for onc1
			},
			want: map[string]load{onc1.ID: {Open: 2, active: 4}, onc2.ID: {}}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := store(fmt.Sprintf("load%d-%d:", time.Now().UnixNano(), i))
			start := time.Now().Truncate(time.Millisecond)
			st := &loadStory{t: t, at: start}
			tt.story(st)
			for _, c := range st.out {
				require.NoError(t, s.Project(ctx, c), "project %s at %d", c.ID, c.Position())
			}
			got, err := s.Load(ctx, ids)
			require.NoError(t, err)
			want := map[string]readmodel.Load{}
			for id, w := range tt.want {
				l := readmodel.Load{Open: w.Open, Held: w.Held}
				if w.active > 0 {
					l.LastActive = start.Add(time.Duration(w.active) * time.Second)
				}
				want[id] = l
			}
			assert.Len(t, got, len(want))
			for id, w := range want {
				g := got[id]
				assert.Equal(t, w.Open, g.Open, "%s: got %d open, want %d", id, g.Open, w.Open)
				assert.Equal(t, w.Held, g.Held, "%s: got %d held, want %d", id, g.Held, w.Held)
				assert.True(t, w.LastActive.Equal(g.LastActive), "%s: got last active %s, want %s", id, g.LastActive, w.LastActive)
			}
		})
	}
}

// load is a case's expected readmodel.Load, with the last activity in seconds after the
// story's start (0 for never).
type load struct {
	Open, Held int
	active     int
}

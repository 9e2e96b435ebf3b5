package worker

import (
	"context"
	"errors"

	"github.com/regionalconsult/broker/pkg/presence"
	"github.com/regionalconsult/broker/pkg/readmodel"
	"github.com/regionalconsult/broker/services/routing/internal/dispatch"
)

// People gathers the facts routing orders candidates by: the availability each specialist set,
// whether they are connected (presence in Redis), and their load and last activity (the read
// model in Redis).
type People struct {
	presence     *presence.Tracker
	load         *readmodel.Store
	availability func(userID string) string
}

// NewPeople returns People over the presence tracker, the read model and a source of the
// availability each specialist set.
func NewPeople(p *presence.Tracker, load *readmodel.Store, availability func(userID string) string) *People {
	return &People{presence: p, load: load, availability: availability}
}

// Facts returns what is known of ids. Availability is always known; presence and load are
// missing, with the error, when Redis does not answer.
func (p *People) Facts(ctx context.Context, ids []string) (dispatch.Facts, error) {
	out := make(dispatch.Facts, len(ids))
	for _, id := range ids {
		out[id] = dispatch.Person{Availability: p.availability(id)}
	}
	online, err1 := p.presence.OnlineAmong(ctx, ids)
	load, err2 := p.load.Load(ctx, ids)
	for _, id := range ids {
		f := out[id]
		l := load[id]
		f.Online, f.Open, f.Held, f.LastActive = online[id], l.Open, l.Held, l.LastActive
		out[id] = f
	}
	return out, errors.Join(err1, err2)
}

package worker

import (
	"context"
	"errors"
	"time"

	"github.com/regionalconsult/broker/pkg/redis/presence"
	"github.com/regionalconsult/broker/pkg/redis/readmodel"
	"github.com/regionalconsult/broker/services/routing/internal/dispatch"
)

// People gathers the facts routing orders candidates by: the availability each specialist set,
// whether they are connected (presence in Redis), and their load and last activity (the read
// model in Redis).
type People struct {
	presence     *presence.Tracker
	load         *readmodel.Store
	availability func(userID string) string
	synced       <-chan struct{}
}

// NewPeople returns People over the presence tracker, the read model and a source of the
// availability each specialist set, which is complete once synced is closed.
func NewPeople(p *presence.Tracker, load *readmodel.Store, availability func(userID string) string, synced <-chan struct{}) *People {
	return &People{presence: p, load: load, availability: availability, synced: synced}
}

// syncWait bounds how long a decision waits for availability to be loaded after a start.
const syncWait = 5 * time.Second

// Facts returns what is known of ids. Availability is known once loaded (a decision right
// after a start waits for that, briefly); presence and load are missing, with the error, when
// Redis does not answer.
func (p *People) Facts(ctx context.Context, ids []string) (dispatch.Facts, error) {
	var errs []error
	select {
	case <-p.synced:
	case <-time.After(syncWait):
		errs = append(errs, errors.New("availability not loaded yet"))
	case <-ctx.Done():
		return nil, ctx.Err()
	}
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
	return out, errors.Join(append(errs, err1, err2)...)
}

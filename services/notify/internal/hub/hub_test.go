package hub_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/services/notify/internal/hub"
)

var t0 = time.Date(2026, 5, 10, 9, 0, 0, 0, time.UTC)

// The people connected in these tests.
var actors = map[string]consult.Actor{
	"coord":    {ID: "u-coord1", Role: consult.RoleCoordinator},
	"ref":      {ID: "u-referrer1", Role: consult.RoleReferrer, ClinicID: "hebron"},
	"ref-mate": {ID: "u-referrer3", Role: consult.RoleReferrer, ClinicID: "hebron"},
	"ref-gaza": {ID: "u-referrer2", Role: consult.RoleReferrer, ClinicID: "gaza-city"},
	"onc1":     {ID: "u-onc1", Role: consult.RoleSpecialist},
	"onc2":     {ID: "u-onc2", Role: consult.RoleSpecialist},
	"onc3":     {ID: "u-onc3", Role: consult.RoleSpecialist},
	"admin":    {ID: "u-admin1", Role: consult.RoleAdmin},
}

// History steps of one consult of the hebron clinic; hist numbers them.
func requested() event.Event {
	return event.Event{Type: event.Requested, ActorID: "u-referrer1", Request: &event.Request{
		Urgency: "emergent", Specialty: "pediatric-oncology", ClinicID: "hebron",
		Patient: event.Patient{AgeYears: 7, Sex: "female"}, Question: "q", AcceptBy: t0.Add(time.Hour),
	}}
}
func offered(id string) event.Event {
	return event.Event{Type: event.Offered, ActorID: "routing", SpecialistID: id}
}
func expired(id string) event.Event {
	return event.Event{Type: event.OfferExpired, ActorID: "routing", SpecialistID: id}
}
func declined(id string) event.Event {
	return event.Event{Type: event.Declined, ActorID: id, SpecialistID: id}
}
func accepted(id string) event.Event { return event.Event{Type: event.Accepted, ActorID: id} }
func assigned(id string) event.Event {
	return event.Event{Type: event.Assigned, ActorID: "u-coord1", SpecialistID: id}
}
func message(by string) event.Event {
	return event.Event{Type: event.Message, ActorID: by, MessageID: "m", Body: "hi"}
}

// states folds steps and returns the states before and after the last one.
func states(t *testing.T, steps ...event.Event) (before, after *consult.Consult) {
	t.Helper()
	var c *consult.Consult
	for i, e := range steps {
		e.ID, e.ConsultID, e.Position = fmt.Sprintf("ev-%d", i+1), "c-1", i+1
		e.At = t0.Add(time.Duration(i) * time.Minute)
		if e.Type == event.Offered {
			e.ExpiresAt = e.At.Add(5 * time.Minute)
		}
		next, err := consult.Apply(c, e)
		require.NoError(t, err, "apply step %d", i+1)
		before, c = c, next
	}
	return before, c
}

// queued drains what is waiting in c's queue without blocking.
func queued(c *hub.Client) []hub.Frame {
	var out []hub.Frame
	for {
		select {
		case f := <-c.Send:
			out = append(out, f)
		default:
			return out
		}
	}
}

func seqs(frames []hub.Frame) []uint64 {
	out := make([]uint64, 0, len(frames))
	for _, f := range frames {
		out = append(out, f.Seq)
	}
	return out
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestRegisterUnregister(t *testing.T) {
	t.Parallel()
	h := hub.New(7)
	assert.Equal(t, 0, h.Count(), "got %d clients in a new hub, want 0", h.Count())
	assert.Equal(t, uint64(7), h.Seq(), "got seq %d, want 7", h.Seq())

	coord := hub.NewClient(actors["coord"], 4, nil)
	ref := hub.NewClient(actors["ref"], 4, nil)
	onc1a := hub.NewClient(actors["onc1"], 4, nil)
	onc1b := hub.NewClient(actors["onc1"], 4, nil)
	admin := hub.NewClient(actors["admin"], 4, nil)
	for i, c := range []*hub.Client{coord, ref, onc1a, onc1b, admin} {
		live := h.Register(c, 0)
		assert.Equal(t, uint64(7), live, "got live from %d, want the hub's seq 7", live)
		assert.Equal(t, i+1, h.Count(), "got %d clients, want %d", h.Count(), i+1)
	}
	assert.ElementsMatch(t, []*hub.Client{onc1a, onc1b}, h.UserClients("u-onc1"), "got other clients for u-onc1")
	assert.ElementsMatch(t, []*hub.Client{ref}, h.UserClients("u-referrer1"), "got other clients for u-referrer1")
	assert.Empty(t, h.UserClients("u-nobody"), "got clients for an unknown user, want none")

	tests := []struct {
		name      string
		c         *hub.Client
		wantCount int
		wantOnc1  int
	}{
		{"one of two connections of a user", onc1a, 4, 1},
		{"the same connection again", onc1a, 4, 1},
		{"a connection never registered", hub.NewClient(actors["onc1"], 4, nil), 4, 1},
		{"the user's last connection", onc1b, 3, 0},
		{"a coordinator", coord, 2, 0},
		{"a referrer", ref, 1, 0},
		{"an admin", admin, 0, 0},
		{"with nobody left", admin, 0, 0},
	}
	for _, tt := range tests {
		h.Unregister(tt.c)
		assert.Equal(t, tt.wantCount, h.Count(), "%s: got %d clients, want %d", tt.name, h.Count(), tt.wantCount)
		assert.Len(t, h.UserClients("u-onc1"), tt.wantOnc1, "%s: got %d u-onc1 clients, want %d", tt.name, len(h.UserClients("u-onc1")), tt.wantOnc1)
	}

	// Nobody unregistered hears anything.
	before, after := states(t, requested(), offered("u-onc1"))
	h.Publish(hub.Frame{Seq: 8}, before, after)
	for name, c := range map[string]*hub.Client{"coord": coord, "ref": ref, "onc1a": onc1a, "onc1b": onc1b} {
		assert.Empty(t, queued(c), "got frames for unregistered %s, want none", name)
	}
}

// TestPublishAudience publishes one event of each kind to a hub with everyone connected and
// checks exactly who gets it, once.
func TestPublishAudience(t *testing.T) {
	t.Parallel()
	everyone := []string{"coord", "ref", "ref-mate", "ref-gaza", "onc1", "onc2", "onc3", "admin"}
	clinic := []string{"coord", "ref", "ref-mate"}
	tests := []struct {
		name  string
		steps []event.Event
		want  []string
	}{
		{"request", []event.Event{requested()}, clinic},
		{"offer reaches the offered specialist", []event.Event{requested(), offered("u-onc1")}, append(clinic, "onc1")},
		{"decline reaches the specialist whose offer ended", []event.Event{requested(), offered("u-onc1"), declined("u-onc1")},
			append(clinic, "onc1")},
		{"expiry reaches the specialist whose offer ended", []event.Event{requested(), offered("u-onc1"), expired("u-onc1")},
			append(clinic, "onc1")},
		{"the next offer skips the one who declined", []event.Event{requested(), offered("u-onc1"), declined("u-onc1"), offered("u-onc2")},
			append(clinic, "onc2")},
		{"accept reaches the new assignee once", []event.Event{requested(), offered("u-onc1"), accepted("u-onc1")},
			append(clinic, "onc1")},
		{"message reaches the assignee", []event.Event{requested(), offered("u-onc1"), accepted("u-onc1"), message("u-referrer1")},
			append(clinic, "onc1")},
		{"reassignment reaches both specialists", []event.Event{requested(), offered("u-onc1"), accepted("u-onc1"), assigned("u-onc2")},
			append(clinic, "onc1", "onc2")},
		{"after reassignment only the new assignee", []event.Event{requested(), offered("u-onc1"), accepted("u-onc1"), assigned("u-onc2"),
			message("u-onc2")}, append(clinic, "onc2")},
		{"assignment over a live offer reaches holder and assignee", []event.Event{requested(), offered("u-onc1"), assigned("u-onc3")},
			append(clinic, "onc1", "onc3")},
		{"cancel of an offer reaches its holder", []event.Event{requested(), offered("u-onc1"),
			{Type: event.Cancelled, ActorID: "u-referrer1"}}, append(clinic, "onc1")},
		{"escalation reaches coordinators and the clinic", []event.Event{requested(), offered("u-onc1"), expired("u-onc1"),
			{Type: event.Escalated, ActorID: "routing"}}, clinic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := hub.New(0)
			clients := map[string]*hub.Client{}
			for _, name := range everyone {
				clients[name] = hub.NewClient(actors[name], 8, nil)
				h.Register(clients[name], 0)
			}
			before, after := states(t, tt.steps...)
			f := hub.Frame{Seq: 1, Data: []byte(tt.name)}
			h.Publish(f, before, after)
			assert.Equal(t, uint64(1), h.Seq(), "got seq %d after publishing, want 1", h.Seq())

			for _, name := range everyone {
				got := queued(clients[name])
				if slices.Contains(tt.want, name) {
					assert.Equal(t, []hub.Frame{f}, got, "%s: got frames %v, want exactly the one published", name, seqs(got))
				} else {
					assert.Empty(t, got, "%s: got frames %v, want none", name, seqs(got))
				}
				assert.False(t, closed(clients[name].Ended()), "%s: got dropped, want connected", name)
			}
		})
	}
}

// A referrer without a clinic is indexed under the empty clinic; a consult that somehow has no
// clinic must still not reach it, nor an admin, whatever the indexes say.
func TestPublishChecksVisibility(t *testing.T) {
	t.Parallel()
	h := hub.New(0)
	clinicless := hub.NewClient(consult.Actor{ID: "u-referrer9", Role: consult.RoleReferrer}, 4, nil)
	coord := hub.NewClient(actors["coord"], 4, nil)
	h.Register(clinicless, 0)
	h.Register(coord, 0)
	req := requested()
	r := *req.Request
	r.ClinicID = ""
	req.Request = &r
	before, after := states(t, req)
	h.Publish(hub.Frame{Seq: 1}, before, after)
	assert.Empty(t, queued(clinicless), "got a frame for a referrer without a clinic, want none")
	assert.Equal(t, []uint64{1}, seqs(queued(coord)), "got other frames for the coordinator, want [1]")
}

func TestPublishReachesEveryConnectionOfAUser(t *testing.T) {
	t.Parallel()
	h := hub.New(0)
	var conns []*hub.Client
	for _, name := range []string{"onc1", "onc1", "ref", "ref"} {
		c := hub.NewClient(actors[name], 4, nil)
		h.Register(c, 0)
		conns = append(conns, c)
	}
	before, after := states(t, requested(), offered("u-onc1"))
	h.Publish(hub.Frame{Seq: 1}, before, after)
	for i, c := range conns {
		got := queued(c)
		assert.Equal(t, []uint64{1}, seqs(got), "connection %d (%s): got %v, want [1]", i, c.Actor.ID, seqs(got))
	}
}

// TestResume checks the seam between replay and live delivery: frames at or below what a
// client has, or will get by replay, are not sent again, and nothing after is missed.
func TestResume(t *testing.T) {
	t.Parallel()
	before, after := states(t, requested(), offered("u-onc1"))

	t.Run("reconnect after a drop", func(t *testing.T) {
		t.Parallel()
		h := hub.New(0)
		first := hub.NewClient(actors["coord"], 8, nil)
		require.Equal(t, uint64(0), h.Register(first, 0))
		for seq := uint64(1); seq <= 3; seq++ {
			h.Publish(hub.Frame{Seq: seq}, before, after)
		}
		assert.Equal(t, []uint64{1, 2, 3}, seqs(queued(first)), "got other frames before the drop")
		h.Unregister(first)

		h.Publish(hub.Frame{Seq: 4}, before, after) // missed while away
		h.Publish(hub.Frame{Seq: 5}, before, after)

		second := hub.NewClient(actors["coord"], 8, nil)
		live := h.Register(second, 3)
		assert.Equal(t, uint64(5), live, "got live from %d, want 5: the caller replays (3, 5]", live)
		h.Publish(hub.Frame{Seq: 6}, before, after)
		h.Publish(hub.Frame{Seq: 7}, before, after)
		assert.Equal(t, []uint64{6, 7}, seqs(queued(second)), "got other live frames after resuming")
		assert.Empty(t, queued(first), "got frames on the old connection, want none")
	})

	t.Run("replay ran ahead of the hub", func(t *testing.T) {
		t.Parallel()
		h := hub.New(5)
		c := hub.NewClient(actors["onc1"], 8, nil)
		live := h.Register(c, 8)
		assert.Equal(t, uint64(5), live, "got live from %d, want the hub's 5", live)
		for seq := uint64(6); seq <= 10; seq++ {
			h.Publish(hub.Frame{Seq: seq}, before, after)
		}
		assert.Equal(t, []uint64{9, 10}, seqs(queued(c)), "got other frames, want only those after 8")
	})

	t.Run("client behind the hub starts at the hub", func(t *testing.T) {
		t.Parallel()
		h := hub.New(10)
		c := hub.NewClient(actors["ref"], 8, nil)
		live := h.Register(c, 2)
		assert.Equal(t, uint64(10), live, "got live from %d, want 10", live)
		h.Publish(hub.Frame{Seq: 10}, before, after) // already the hub's: ignored
		h.Publish(hub.Frame{Seq: 11}, before, after)
		assert.Equal(t, []uint64{11}, seqs(queued(c)), "got other frames, want [11]")
	})

	t.Run("frames at or below after are skipped only for that client", func(t *testing.T) {
		t.Parallel()
		h := hub.New(0)
		resumed := hub.NewClient(actors["coord"], 8, nil)
		fresh := hub.NewClient(actors["coord"], 8, nil)
		h.Register(resumed, 2)
		h.Register(fresh, 0)
		for seq := uint64(1); seq <= 3; seq++ {
			h.Publish(hub.Frame{Seq: seq}, before, after)
		}
		assert.Equal(t, []uint64{3}, seqs(queued(resumed)), "resumed: got other frames, want [3]")
		assert.Equal(t, []uint64{1, 2, 3}, seqs(queued(fresh)), "fresh: got other frames, want [1 2 3]")
	})
}

func TestPublishIgnoresOldSeq(t *testing.T) {
	t.Parallel()
	h := hub.New(0)
	c := hub.NewClient(actors["coord"], 8, nil)
	h.Register(c, 0)
	before, after := states(t, requested(), offered("u-onc1"))

	tests := []struct {
		seq     uint64
		wantHub uint64
	}{
		{5, 5},
		{5, 5}, // the same again
		{4, 5}, // older
		{0, 5},
		{6, 6},
	}
	for _, tt := range tests {
		h.Publish(hub.Frame{Seq: tt.seq, Data: []byte(fmt.Sprint(tt.seq))}, before, after)
		assert.Equal(t, tt.wantHub, h.Seq(), "after publishing %d: got seq %d, want %d", tt.seq, h.Seq(), tt.wantHub)
	}
	assert.Equal(t, []uint64{5, 6}, seqs(queued(c)), "got other frames, want [5 6]")
}

func TestSlowClientIsDropped(t *testing.T) {
	t.Parallel()
	h := hub.New(0)
	slow := hub.NewClient(actors["coord"], 1, nil)
	fast := hub.NewClient(actors["coord"], 16, nil)
	h.Register(slow, 0)
	h.Register(fast, 0)
	before, after := states(t, requested(), offered("u-onc1"))

	h.Publish(hub.Frame{Seq: 1}, before, after)
	assert.False(t, closed(slow.Ended()), "got dropped with room in the queue, want connected")

	// The queue is full and nobody reads it: Publish must return anyway.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for seq := uint64(2); seq <= 5; seq++ {
			h.Publish(hub.Frame{Seq: seq}, before, after)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		require.FailNow(t, "Publish blocked on a full queue")
	}

	assert.True(t, closed(slow.Ended()), "got the slow client still connected, want it dropped")
	assert.Equal(t, []uint64{1}, seqs(queued(slow)), "slow: got other frames, want only the first")
	assert.False(t, closed(fast.Ended()), "got the fast client dropped, want it connected")
	assert.Equal(t, []uint64{1, 2, 3, 4, 5}, seqs(queued(fast)), "fast: got other frames, want all five")
	assert.Equal(t, uint64(5), h.Seq(), "got seq %d, want 5", h.Seq())
}

// TestConcurrentUse runs one producer against clients coming and going, under the race
// detector: a client registered throughout gets every frame, in order.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	const frames = 500
	h := hub.New(0)
	steady := hub.NewClient(actors["coord"], frames, nil)
	h.Register(steady, 0)
	before, after := states(t, requested(), offered("u-onc1"))

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, name := range []string{"coord", "ref", "onc1", "ref-gaza"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c := hub.NewClient(actors[name], 4, nil)
				h.Register(c, h.Seq())
				_ = h.Count()
				_ = h.UserClients(actors[name].ID)
				queued(c)
				h.Unregister(c)
			}
		}()
	}
	for seq := uint64(1); seq <= frames; seq++ {
		h.Publish(hub.Frame{Seq: seq}, before, after)
	}
	close(stop)
	wg.Wait()

	got := seqs(queued(steady))
	want := make([]uint64, frames)
	for i := range want {
		want[i] = uint64(i + 1)
	}
	assert.Equal(t, want, got, "got %d frames, want all %d in order", len(got), frames)
	assert.Equal(t, 1, h.Count(), "got %d clients after the others left, want 1", h.Count())
}

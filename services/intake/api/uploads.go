package api

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// Bounds on uploads in progress on one instance: an upload holds up to attachment.MaxSize of
// memory while it arrives, so their number, not only their size, must be bounded.
const (
	uploadsInFlight        = 16
	uploadsInFlightPerUser = 2
	// uploadIdle is how long an upload may send nothing before it is cut off: a client that
	// declares 10 MiB and then stalls holds a slot for this long, not for uploadWithin. It is
	// generous because a clinic's mobile link can stall that long and recover.
	uploadIdle = time.Minute
)

// uploadSlots counts the uploads in progress, overall and per user.
type uploadSlots struct {
	mu     sync.Mutex
	total  int
	byUser map[string]int
}

// take reserves a slot for user's upload, or reports false when the instance or the user has
// as many in progress as allowed. A reserved slot is given back with release.
func (u *uploadSlots) take(user string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.total >= uploadsInFlight || u.byUser[user] >= uploadsInFlightPerUser {
		return false
	}
	if u.byUser == nil {
		u.byUser = map[string]int{}
	}
	u.total++
	u.byUser[user]++
	return true
}

func (u *uploadSlots) release(user string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.total--
	if u.byUser[user]--; u.byUser[user] <= 0 {
		delete(u.byUser, user)
	}
}

// idleReader reads a request body, moving the connection's read deadline to idle from now
// before each read, never past end: a body that stops arriving fails after idle.
type idleReader struct {
	r    io.Reader
	rc   *http.ResponseController
	idle time.Duration
	end  time.Time
}

func (i *idleReader) Read(p []byte) (int, error) {
	_ = i.rc.SetReadDeadline(earlier(time.Now().Add(i.idle), i.end)) // a writer that cannot leaves the server's timeout
	return i.r.Read(p)
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

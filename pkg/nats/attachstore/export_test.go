package attachstore

import (
	"context"
	"time"
)

// Sweep exposes one sweep to the tests, with the moments they choose.
func (s *Store) Sweep(ctx context.Context, since, cutoff time.Time) (int, error) {
	return s.sweep(ctx, since, cutoff)
}

package bus

import (
	"context"
	"time"
)

// SweepAttachments exposes one sweep to the tests, with the moments they choose.
func (b *Bus) SweepAttachments(ctx context.Context, since, cutoff time.Time) (int, error) {
	return b.sweepAttachments(ctx, since, cutoff)
}

package api

import (
	"context"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/regionalconsult/broker/pkg/nats/attachstore"
	"github.com/regionalconsult/broker/pkg/nats/auditlog"
	"github.com/regionalconsult/broker/pkg/nats/bus"
	"github.com/regionalconsult/broker/pkg/nats/consultstore"
	"github.com/regionalconsult/broker/pkg/nats/directory"
	"github.com/regionalconsult/broker/pkg/nats/profile"
	"github.com/regionalconsult/broker/pkg/nats/session"
	"github.com/regionalconsult/broker/pkg/redis/ratelimit"
	"github.com/regionalconsult/broker/pkg/redis/readmodel"
)

// Deps are the stores the API reads and writes.
type Deps struct {
	Consults  *consultstore.Store
	Audit     *auditlog.Log
	Files     *attachstore.Store
	ReadModel *readmodel.Store
	Directory *directory.Directory
	Sessions  *session.Store
	Limiter   *ratelimit.Limiter
	Profiles  *profile.Store
}

// OpenDeps opens the API's stores over NATS (b) and Redis (rdb), declaring the streams and
// buckets they own. sessions bounds a login session (session.DefaultTTL when its Lifetime is 0).
func OpenDeps(ctx context.Context, b *bus.Bus, rdb *redis.Client, sessions session.Limits, log *slog.Logger) (Deps, error) {
	var d Deps
	var err error
	if d.Consults, err = consultstore.Open(ctx, b); err != nil {
		return Deps{}, err
	}
	if d.Audit, err = auditlog.Open(ctx, b); err != nil {
		return Deps{}, err
	}
	if d.Files, err = attachstore.Open(ctx, b); err != nil {
		return Deps{}, err
	}
	if d.Directory, err = directory.Open(ctx, b, log); err != nil {
		return Deps{}, err
	}
	if d.Sessions, err = session.Open(ctx, b, d.Directory, sessions); err != nil {
		return Deps{}, err
	}
	if d.Profiles, err = profile.Open(ctx, b); err != nil {
		return Deps{}, err
	}
	d.ReadModel = readmodel.New(rdb, "consult:")
	d.Limiter = ratelimit.New(rdb, "consult:rl:")
	return d, nil
}

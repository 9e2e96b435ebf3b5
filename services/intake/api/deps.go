package api

import (
	"context"
	"log/slog"
	"time"

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
// buckets they own. sessionTTL is a login session's lifetime (session.DefaultTTL when 0).
func OpenDeps(ctx context.Context, b *bus.Bus, rdb *redis.Client, sessionTTL time.Duration, log *slog.Logger) (Deps, error) {
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
	if d.Sessions, err = session.Open(ctx, b, d.Directory, sessionTTL); err != nil {
		return Deps{}, err
	}
	if d.Profiles, err = profile.Open(ctx, b); err != nil {
		return Deps{}, err
	}
	d.ReadModel = readmodel.New(rdb, "consult:")
	d.Limiter = ratelimit.New(rdb, "consult:rl:")
	return d, nil
}

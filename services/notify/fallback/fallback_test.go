package fallback_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/nats/consultstore"
	"github.com/regionalconsult/broker/pkg/nats/directory"
	"github.com/regionalconsult/broker/pkg/redis/presence"
	"github.com/regionalconsult/broker/pkg/redis/readmodel"
	"github.com/regionalconsult/broker/pkg/roster"
	"github.com/regionalconsult/broker/services/notify/fallback"
)

const secret = "Relapsed ALL, MRN 5512093" // must never leave the hospital by email

// offer stores a consult offered to specialist and returns its id.
func offer(t *testing.T, b *consultstore.Store, specialist string) string {
	t.Helper()
	ctx := context.Background()
	age := 6
	id := ulid.Make().String()
	e, err := consult.Submit(consult.Actor{ID: "u-referrer1", Role: consult.RoleReferrer, ClinicID: "hebron"},
		consult.Draft{Urgency: "urgent", Specialty: "pediatric-oncology", Patient: &consult.DraftPatient{AgeYears: &age, Sex: "male", Reference: "HEB-77"},
			Question: secret}, id, "", consult.Policy{KnownSpecialty: func(string) bool { return true }}, time.Now())
	require.NoError(t, err)
	e.ID = ulid.Make().String()
	c, err := b.Append(ctx, nil, e)
	require.NoError(t, err)
	o, err := c.OfferTo([]string{specialist}, 1, 1, time.Now().Add(15*time.Minute), time.Now())
	require.NoError(t, err)
	o.ID = ulid.Make().String()
	_, err = b.Append(ctx, c, o)
	require.NoError(t, err)
	return id
}

func TestOffersToOfflineSpecialistsAreEmailedOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, raw := testenv.Consults(t)
	_, url := testenv.Redis(t)
	rdb, err := readmodel.Dial(url)
	require.NoError(t, err)
	defer rdb.Close()
	dir, err := directory.Open(ctx, raw, testenv.Logger(t))
	require.NoError(t, err)
	_, err = dir.Seed(ctx, roster.DemoJSON())
	require.NoError(t, err)
	tracker := presence.New(rdb, "t:", 30*time.Second)
	require.NoError(t, tracker.Connected(ctx, "u-onc1", "gw-1")) // onc1 has the app open; onc2 does not
	sink := testenv.StartSMTPSink(t)

	offline := offer(t, b, "u-onc2")
	offer(t, b, "u-onc1")
	cfg := fallback.Config{SMTPAddr: sink.Addr, From: "consult-broker@localhost", PublicURL: "https://consult.example.org"}
	for range 2 { // two notify instances share the consumer; each offer is still emailed once
		m := fallback.New(cfg, b, rdb, tracker, dir, testenv.Logger(t))
		go func() { _ = m.Run(ctx) }()
	}

	require.Eventually(t, func() bool { return len(sink.Messages()) >= 1 }, 10*time.Second, 20*time.Millisecond, "no email sent")
	time.Sleep(time.Second) // a second email, to onc1 or again to onc2, would arrive by now
	mail := sink.Messages()
	require.Len(t, mail, 1, "got %d emails, want one (to the offline specialist only)", len(mail))
	m := mail[0]
	assert.Equal(t, []string{"onc2@sheba.example.org"}, m.To)
	assert.Contains(t, m.Data, "https://consult.example.org/consults/"+offline)
	assert.Contains(t, m.Data, "Subject: Consult offer waiting for you: urgent, Pediatric oncology")
	for _, leak := range []string{secret, "HEB-77", " male", "age_years", "6 y"} {
		assert.NotContains(t, strings.ToLower(m.Data), strings.ToLower(leak), "the email carries patient details")
	}
}

// Package fallback sends an offer by email when its specialist has no live stream connection on
// any gateway, as clinical messaging systems page someone who is not at a screen. The email
// carries a link and no patient details. It runs as a durable consumer shared by every notify
// instance; each offer is emailed at most once.
package fallback

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/smtp"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/nats/consultstore"
	"github.com/regionalconsult/broker/pkg/process/config"
	"github.com/regionalconsult/broker/pkg/roster"
)

// ConsumerName is the durable consumer every notify instance shares.
const ConsumerName = "notify-email"

// Config says where mail goes.
type Config = config.Mail

// Online says whether a user has a live connection anywhere.
type Online interface {
	Online(ctx context.Context, user string) (bool, error)
}

// Roster gives the current roster.
type Roster interface {
	Roster() *roster.Roster
}

// Mailer emails offers to offline specialists.
type Mailer struct {
	cfg      Config
	consults *consultstore.Store
	rdb      *redis.Client
	online   Online
	roster   Roster
	log      *slog.Logger
	sent     metric.Int64Counter
}

// New returns a Mailer.
func New(cfg Config, b *consultstore.Store, rdb *redis.Client, online Online, r Roster, log *slog.Logger) *Mailer {
	sent, _ := otel.Meter("notify").Int64Counter("offer_emails_total", metric.WithDescription("offers emailed to offline specialists"))
	return &Mailer{cfg: cfg, consults: b, rdb: rdb, online: online, roster: r, log: log, sent: sent}
}

// Run consumes offers and reminders until ctx ends. With no relay configured it only waits.
func (m *Mailer) Run(ctx context.Context) error {
	if m.cfg.SMTPAddr == "" {
		m.log.Info("email fallback disabled: no SMTP relay configured")
		<-ctx.Done()
		return nil
	}
	return m.consults.ConsumeEvents(ctx, ConsumerName, m.handle)
}

// handle emails the specialist of a live offer who is offline, once per offer. An offer that
// was made while they were online, and is re-alerted after they went offline, is emailed then.
func (m *Mailer) handle(ctx context.Context, e event.Event) error {
	if e.Type != event.Offered && e.Type != event.OfferReminder {
		return nil
	}
	c, err := m.consults.Load(ctx, e.ConsultID)
	if err != nil {
		return err
	}
	to := e.SpecialistIDs
	if len(to) == 0 {
		to = []string{e.SpecialistID}
	}
	var errs []error
	for _, id := range to {
		errs = append(errs, m.mailOffer(ctx, c, id))
	}
	return errors.Join(errs...)
}

// mailOffer emails the specialist id about its live offer of c, once per offer, if it is still
// live, unseen and the specialist is offline.
func (m *Mailer) mailOffer(ctx context.Context, c *consult.Consult, id string) error {
	o := c.OfferFor(id)
	if o == nil || o.SeenAt != nil || !time.Now().Before(o.ExpiresAt) {
		return nil // answered, seen, withdrawn or expired meanwhile
	}
	online, err := m.online.Online(ctx, o.SpecialistID)
	if err != nil || online {
		return err
	}
	u, ok := m.roster.Roster().User(o.SpecialistID)
	if !ok || u.Email == "" {
		m.log.Warn("offline specialist has no email address", "user_id", o.SpecialistID, "consult_id", c.ID)
		return nil
	}
	// Claimed for a little longer than a send may take, so that a crash mid-send lets the
	// redelivery try again; marked sent for good only once the relay accepted it.
	key := fmt.Sprintf("consult:mail:%s:%d:%s", c.ID, o.Position, o.SpecialistID)
	first, err := m.rdb.SetNX(ctx, key, "sending", 2*sendTimeout).Result()
	if err != nil || !first {
		return err
	}
	if err := m.send(u, c, o); err != nil {
		m.rdb.Del(context.WithoutCancel(ctx), key)
		return fmt.Errorf("email offer %s to %s: %w", c.ID, u.ID, err)
	}
	if err := m.rdb.Set(ctx, key, "sent", 48*time.Hour).Err(); err != nil {
		m.log.Warn("sent email not recorded; a redelivery may send it again", "consult_id", c.ID, "err", err)
	}
	m.sent.Add(ctx, 1)
	m.log.Info("offer emailed to an offline specialist", "consult_id", c.ID, "user_id", u.ID)
	return nil
}

// sendTimeout bounds one email: a relay that hangs must not stall the consumer.
const sendTimeout = 20 * time.Second

func (m *Mailer) send(u roster.User, c *consult.Consult, o *consult.Offer) error {
	msg := Message(m.cfg, u, c, o, m.roster.Roster())
	conn, err := (&net.Dialer{Timeout: 5 * time.Second}).Dial("tcp", m.cfg.SMTPAddr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(sendTimeout))
	host, _, _ := net.SplitHostPort(m.cfg.SMTPAddr)
	cl, err := smtp.NewClient(conn, host)
	if err != nil {
		return err
	}
	defer cl.Close()
	if ok, _ := cl.Extension("STARTTLS"); ok {
		if err := cl.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}); err != nil {
			return err
		}
	}
	if m.cfg.Username != "" {
		if err := cl.Auth(smtp.PlainAuth("", m.cfg.Username, m.cfg.Password, host)); err != nil {
			return err
		}
	}
	if err := cl.Mail(m.cfg.From); err != nil {
		return err
	}
	if err := cl.Rcpt(u.Email); err != nil {
		return err
	}
	w, err := cl.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return cl.Quit()
}

// Message is the email for an offer: urgency, specialty, deadline and a link; nothing about the
// patient, since mail crosses systems the hospital does not control.
func Message(cfg Config, to roster.User, c *consult.Consult, o *consult.Offer, r *roster.Roster) []byte {
	specialty := c.Specialty
	for _, s := range r.Specialties {
		if s.Slug == c.Specialty && s.Name["en"] != "" {
			specialty = s.Name["en"]
		}
	}
	link := strings.TrimSuffix(cfg.PublicURL, "/") + "/consults/" + c.ID
	var b strings.Builder
	header := func(k, v string) {
		b.WriteString(k + ": " + strings.NewReplacer("\r", "", "\n", "").Replace(v) + "\r\n")
	}
	header("From", cfg.From)
	header("To", to.Email)
	header("Subject", fmt.Sprintf("Consult offer waiting for you: %s, %s", c.Urgency, specialty))
	header("Date", time.Now().UTC().Format(time.RFC1123Z))
	header("Auto-Submitted", "auto-generated")
	header("Content-Type", "text/plain; charset=utf-8")
	b.WriteString("\r\n")
	fmt.Fprintf(&b, "%s,\r\n\r\nA consult (urgency: %s, %s) is offered to you until %s (UTC).\r\n"+
		"You are not connected to the consult broker, so this message is sent by email.\r\n\r\n"+
		"Open it to accept or decline:\r\n%s\r\n\r\n"+
		"This message holds no patient details by design.\r\n",
		to.Name, c.Urgency, specialty, o.ExpiresAt.UTC().Format("2006-01-02 15:04"), link)
	return []byte(b.String())
}

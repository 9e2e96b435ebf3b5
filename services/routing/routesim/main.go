// Command routesim replays synthetic consult traffic through routing's real decisions: the
// escalation engine (dispatch.Next), the deadlines each stored event sets and what a due one
// does (dispatch.Deadlines, dispatch.Fire), the consult lifecycle's decisions and its fold
// (consult.Apply), driven exactly as the routing worker drives them. Only the transport is
// replaced: events are appended to an in-memory history, and deadlines (offer expiries, step
// ends, snoozes, SLA clocks, reminders) are items of a discrete-event queue on a simulated clock.
//
// Specialists follow seeded behaviour profiles (they accept, decline, ignore, go offline, are
// busy or away, and finish the consults they own), referrers submit on a diurnal Poisson
// schedule, and coordinators answer escalations by assigning or snoozing. The report says how
// fast consults found an owner against their SLA, how often they escalated, how loaded each
// specialist was, and whether any consult was left with neither owner nor escalation, which
// makes the command fail.
//
//	go run ./services/routing/routesim -days 7 -seed 1
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/regionalconsult/broker/pkg/process/config"
	"github.com/regionalconsult/broker/pkg/roster"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "routesim:", err)
		os.Exit(1)
	}
}

// Config is what one simulation replays.
type Config struct {
	// Days of arrivals, from Start.
	Days int
	// Seed makes a run reproducible: the same seed replays the same traffic and behaviour.
	Seed uint64
	// Start is the first simulated instant.
	Start time.Time
	// Volume is the expected number of consults per week.
	Volume float64
	// Emergent and Urgent are the shares of consults the referrers submit at those urgencies;
	// routine takes the rest.
	Emergent, Urgent float64
	// Mix weighs the specialties' shares of the traffic by slug; a specialty it leaves out
	// weighs 1.
	Mix map[string]float64
	// RedFlagShare is the share of consults whose details are written to meet one of their
	// specialty's red-flag rules (more may meet one by chance).
	RedFlagShare float64
	// CancelShare is the share of consults the referrer withdraws before anyone takes them.
	CancelShare float64
	// Drain bounds how long after the last arrival the simulation runs to let consults settle.
	Drain time.Duration
	// RemindEvery is routing's re-alert interval for unseen offers.
	RemindEvery time.Duration
	// Waits, when set for an urgency, replaces its policies' step waits (routing's
	// STEP_WAIT_*).
	Waits map[string]time.Duration
	// SLA is the response-time targets consults are submitted with.
	SLA config.SLA
}

// DefaultConfig replays a week of 600 consults from Sunday 10 May 2026, midnight in the
// hospital's zone.
func DefaultConfig() Config {
	loc, err := time.LoadLocation(roster.Zone)
	if err != nil {
		loc = time.UTC
	}
	env := config.New(func(string) string { return "" })
	return Config{
		Days: 7, Seed: 1, Start: time.Date(2026, 5, 10, 0, 0, 0, 0, loc), Volume: 600, Emergent: 0.10, Urgent: 0.30,
		Mix:          map[string]float64{"pediatric-oncology": 3, "pediatric-hematology": 1.5},
		RedFlagShare: 0.06, CancelShare: 0.02, Drain: 7 * 24 * time.Hour, RemindEvery: 2 * time.Minute,
		SLA: env.SLA(),
	}
}

// Validate reports what makes the configuration unusable.
func (c Config) Validate() error {
	var errs []error
	if c.Days < 1 || c.Days > 366 {
		errs = append(errs, fmt.Errorf("days=%d: want 1 to 366", c.Days))
	}
	if c.Volume <= 0 || c.Volume > 1e6 {
		errs = append(errs, fmt.Errorf("volume=%g: want more than 0 and at most a million a week", c.Volume))
	}
	if c.Emergent < 0 || c.Urgent < 0 || c.Emergent+c.Urgent > 1 {
		errs = append(errs, fmt.Errorf("emergent=%g, urgent=%g: want shares from 0 that add up to at most 1", c.Emergent, c.Urgent))
	}
	for slug, w := range c.Mix {
		if w < 0 {
			errs = append(errs, fmt.Errorf("mix %s=%g: want a weight from 0", slug, w))
		}
	}
	if c.RedFlagShare < 0 || c.RedFlagShare > 1 || c.CancelShare < 0 || c.CancelShare > 1 {
		errs = append(errs, errors.New("red-flag and cancel shares must be between 0 and 1"))
	}
	if c.Drain < 0 || c.RemindEvery < 0 {
		errs = append(errs, errors.New("drain and remind intervals must not be negative"))
	}
	if c.Start.IsZero() {
		errs = append(errs, errors.New("start is required"))
	}
	return errors.Join(errs...)
}

// parse reads the command line over the defaults; getenv gives the SLA windows (SLA_ACCEPT_*,
// SLA_RECOMMEND_*) and step waits (STEP_WAIT_*) the services would use.
func parse(args []string, getenv func(string) string, stderr io.Writer) (Config, options, error) {
	cfg := DefaultConfig()
	env := config.New(getenv)
	cfg.SLA = env.SLA()
	routing := env.Routing()
	cfg.RemindEvery, cfg.Waits = routing.RemindEvery, routing.StepWaits
	if err := env.Err(); err != nil {
		return Config{}, options{}, err
	}
	fs := flag.NewFlagSet("routesim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var start, mix string
	fs.IntVar(&cfg.Days, "days", cfg.Days, "days of arrivals to replay")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the traffic and the behaviour")
	fs.StringVar(&o.roster, "roster", "", "roster document (JSON or YAML); the demo roster when empty")
	fs.StringVar(&o.trace, "trace", "", "also print the timeline of these consults (ids such as c00042, comma-separated)")
	fs.StringVar(&start, "start", cfg.Start.Format(time.DateOnly), "first day, hospital time (YYYY-MM-DD)")
	fs.Float64Var(&cfg.Volume, "volume", cfg.Volume, "expected consults per week")
	fs.Float64Var(&cfg.Emergent, "emergent", cfg.Emergent, "share of emergent consults")
	fs.Float64Var(&cfg.Urgent, "urgent", cfg.Urgent, "share of urgent consults (routine takes the rest)")
	fs.StringVar(&mix, "mix", "", "specialty weights as slug=weight,... (default pediatric-oncology=3,pediatric-hematology=1.5, others 1)")
	fs.Float64Var(&cfg.RedFlagShare, "red-flags", cfg.RedFlagShare, "share of consults written to meet a red-flag rule")
	fs.Float64Var(&cfg.CancelShare, "cancel", cfg.CancelShare, "share of consults the referrer withdraws")
	fs.DurationVar(&cfg.Drain, "drain", cfg.Drain, "how long after the last arrival to let consults settle")
	fs.DurationVar(&cfg.RemindEvery, "remind", cfg.RemindEvery, "re-alert interval of unseen offers")
	if err := fs.Parse(args); err != nil {
		return Config{}, options{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	day, err := time.ParseInLocation(time.DateOnly, start, cfg.Start.Location())
	if err != nil {
		return Config{}, options{}, fmt.Errorf("start=%q: want YYYY-MM-DD", start)
	}
	cfg.Start = day
	if mix != "" {
		cfg.Mix = map[string]float64{}
		for part := range strings.SplitSeq(mix, ",") {
			slug, w, ok := strings.Cut(strings.TrimSpace(part), "=")
			v, err := strconv.ParseFloat(w, 64)
			if !ok || err != nil {
				return Config{}, options{}, fmt.Errorf("mix %q: want slug=weight", part)
			}
			cfg.Mix[slug] = v
		}
	}
	return cfg, o, cfg.Validate()
}

// options are the command's own choices beside the simulation's configuration.
type options struct {
	roster string // the roster document's file
	trace  string // consults whose timelines to print
}

// run replays the traffic args describe and prints the report to stdout; flag problems go to
// stderr. It fails when the simulation found a consult left with neither owner nor escalation
// or broke another of routing's invariants.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, o, err := parse(args, getenv, stderr)
	if err != nil {
		return err
	}
	doc := roster.DemoJSON()
	if o.roster != "" {
		if doc, err = os.ReadFile(o.roster); err != nil {
			return fmt.Errorf("read roster: %w", err)
		}
	}
	r, err := roster.Parse(doc)
	if err != nil {
		return err
	}
	res, err := Simulate(ctx, cfg, r)
	if err != nil {
		return err
	}
	res.Print(stdout)
	if o.trace != "" {
		for id := range strings.SplitSeq(o.trace, ",") {
			res.Trace(stdout, strings.TrimSpace(id))
		}
	}
	return res.Err()
}

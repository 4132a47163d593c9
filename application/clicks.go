package application

import (
	"context"
	"fmt"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// Clicks records widget clicks.
type Clicks struct {
	UoW       ports.UnitOfWork
	Clock     ports.Clock
	IDs       ports.IDGenerator
	Refs      ports.CorrelationIDGenerator
	Bots      ports.BotDetector
	WhatsApp  domain.WhatsAppLink
	Telemetry ports.Telemetry
	// Tracing, when set, links every click of a shared transaction to it.
	Tracing ports.Tracing
	// AnonymizeIP stores and sends only the /24 (IPv4) or /48 (IPv6) of
	// a visitor's address.
	AnonymizeIP bool

	// clicks, once StartGrouping ran, commits concurrent clicks together.
	clicks *group[*pendingClick]
}

var _ ports.ClickRecorder = (*Clicks)(nil)

// maxClicksTogether bounds how many clicks one transaction records.
const maxClicksTogether = 64

// pendingClick is one click on its way into a transaction.
type pendingClick struct {
	// ctx is the request's: its trace goes with the click's event.
	ctx      context.Context
	cmd      ports.RecordClickCommand
	deviceID string
	isBot    bool
	// Set by the transaction that wrote it (each run draws them afresh).
	src    *domain.InboundSource
	events []domain.Event
	// err is this click's own reason to be left out (its input), which
	// does not fail the clicks it shares a transaction with.
	err error
}

// StartGrouping makes concurrent clicks share a transaction from now on:
// every click waiting at the moment a transaction starts goes into it, with
// up to writers transactions under way at once. Each click is still
// answered only once its own rows have committed. A shared transaction
// runs in the first click's trace (a span aurix.clicks.commit, which the
// other clicks' spans link to), without its cancellation: one visitor
// leaving must not abort the others' clicks. Call it once, before serving;
// without it each click is its own transaction.
func (c *Clicks) StartGrouping(writers int) {
	c.clicks = newGroup(groupOptions{max: maxClicksTogether, parallel: writers, alone: mayConcernSome,
		name: "aurix.clicks.commit", tracing: c.Tracing}, c.write)
}

// RecordClick stores the click and, for a person, its widget.click event, in
// one transaction (shared with concurrent clicks once StartGrouping ran). A
// correlation id that is already taken fails the transaction on its unique
// key; the unit of work runs it again, and the new run draws fresh ids, so a
// clash never surfaces to the caller.
func (c *Clicks) RecordClick(ctx context.Context, cmd ports.RecordClickCommand) (ports.ClickReceipt, error) {
	p := &pendingClick{ctx: ctx, cmd: cmd, deviceID: cmd.DeviceID}
	if p.deviceID == "" {
		p.deviceID = c.IDs.NewID()
	}
	p.isBot = c.Bots != nil && c.Bots.IsBot(cmd.UserAgent)
	var err error
	if c.clicks != nil {
		err = c.clicks.do(ctx, p)
	} else {
		err = c.write(ctx, []*pendingClick{p})
	}
	if err == nil {
		err = p.err
	}
	if err != nil {
		return ports.ClickReceipt{}, fmt.Errorf("record click: %w", err)
	}
	tel := telemetryOf(c.Telemetry)
	tel.ClickRecorded(ctx, p.isBot)
	tel.EventsEmitted(ctx, p.events)
	return ports.ClickReceipt{
		CorrelationID: p.src.CorrelationID(),
		DeviceID:      p.deviceID,
		WhatsAppURL:   c.WhatsApp.For(p.src.CorrelationID()),
		CreatedAt:     p.src.CreatedAt(),
	}, nil
}

// write records clicks in one Write: their rows, each click's event (with
// its own request's trace) and the events' deliveries, in one statement. A
// click the domain refuses is left out with its reason and the others go
// on.
func (c *Clicks) write(ctx context.Context, cs []*pendingClick) error {
	return c.UoW.Write(ctx, func(ctx context.Context, w ports.Writes) error {
		var refs []domain.EventRef
		for _, p := range cs {
			p.src, p.events, p.err = nil, nil, nil
			ref, err := c.Refs.NewCorrelationID()
			if err != nil {
				return fmt.Errorf("new correlation id: %w", err)
			}
			p.src, p.err = domain.RecordClick(domain.NewClick{
				CorrelationID: ref,
				ClickURL:      p.cmd.ClickURL,
				DeviceID:      p.deviceID,
				UserAgent:     p.cmd.UserAgent,
				IPAddress:     p.cmd.IPAddress,
				IsBot:         p.isBot,
				AnonymizeIP:   c.AnonymizeIP,
				EventID:       c.IDs.NewID(),
				Now:           c.Clock.Now(),
			})
			if p.err != nil {
				continue
			}
			p.events = p.src.PullEvents()
			w.AddClicks(p.src)
			if err := w.AddEvents(context.WithoutCancel(p.ctx), p.events...); err != nil {
				return err
			}
			for _, e := range p.events {
				refs = append(refs, e.Ref())
			}
		}
		if len(refs) == 0 {
			return nil
		}
		configs, err := w.ActiveConfigs(ctx)
		if err != nil {
			return fmt.Errorf("active webhook configs: %w", err)
		}
		w.OpenDeliveries(deliveriesOf(refs, configs, c.Clock.Now())...)
		return nil
	})
}

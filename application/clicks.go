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
	// AnonymizeIP stores and sends only the /24 (IPv4) or /48 (IPv6) of
	// a visitor's address.
	AnonymizeIP bool
}

var _ ports.ClickRecorder = (*Clicks)(nil)

// RecordClick stores the click and, for a person, its widget.click event, in
// one transaction. A correlation id that is already taken fails the
// transaction on its unique key; the unit of work runs it again, and the new
// run draws a fresh id, so a clash never surfaces to the caller.
func (c *Clicks) RecordClick(ctx context.Context, cmd ports.RecordClickCommand) (ports.ClickReceipt, error) {
	deviceID := cmd.DeviceID
	if deviceID == "" {
		deviceID = c.IDs.NewID()
	}
	isBot := c.Bots != nil && c.Bots.IsBot(cmd.UserAgent)
	var (
		src    *domain.InboundSource
		events []domain.Event
	)
	err := c.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		ref, err := c.Refs.NewCorrelationID()
		if err != nil {
			return fmt.Errorf("new correlation id: %w", err)
		}
		src, err = domain.RecordClick(domain.NewClick{
			CorrelationID: ref,
			ClickURL:      cmd.ClickURL,
			DeviceID:      deviceID,
			UserAgent:     cmd.UserAgent,
			IPAddress:     cmd.IPAddress,
			IsBot:         isBot,
			AnonymizeIP:   c.AnonymizeIP,
			EventID:       c.IDs.NewID(),
			Now:           c.Clock.Now(),
		})
		if err != nil {
			return err
		}
		events = src.PullEvents()
		if err := tx.InboundSources().Add(ctx, src); err != nil {
			return err
		}
		return publish(ctx, tx, c.Clock.Now(), events)
	})
	if err != nil {
		return ports.ClickReceipt{}, fmt.Errorf("record click: %w", err)
	}
	tel := telemetryOf(c.Telemetry)
	tel.ClickRecorded(ctx, isBot)
	tel.EventsEmitted(ctx, events)
	return ports.ClickReceipt{
		CorrelationID: src.CorrelationID(),
		DeviceID:      deviceID,
		WhatsAppURL:   c.WhatsApp.For(src.CorrelationID()),
		CreatedAt:     src.CreatedAt(),
	}, nil
}

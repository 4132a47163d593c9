package application

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// WhatsApp turns inbound WhatsApp messages into conversations and leads.
type WhatsApp struct {
	UoW   ports.UnitOfWork
	Clock ports.Clock
	IDs   ports.IDGenerator
	Refs  ports.CorrelationIDGenerator
	// Window is how old a click may be and still be correlated.
	Window    time.Duration
	Telemetry ports.Telemetry
}

var _ ports.WhatsAppInbox = (*WhatsApp)(nil)

// ReceiveMessages handles each message in its own transaction. A message id
// already seen changes nothing; the first message of a conversation opens its
// lead, correlated to the click it quotes or the ad it came from.
func (w *WhatsApp) ReceiveMessages(ctx context.Context, msgs []ports.InboundMessage) error {
	for _, m := range msgs {
		err := w.receive(ctx, m)
		if errors.Is(err, domain.ErrInvalidInput) {
			// A message the domain refuses would be refused on every
			// redelivery too: skip it rather than fail the whole batch.
			continue
		}
		if err != nil {
			return fmt.Errorf("message %s: %w", m.MessageID, err)
		}
	}
	return nil
}

func (w *WhatsApp) receive(ctx context.Context, m ports.InboundMessage) error {
	// A clash on a freshly drawn correlation id (referral clicks) fails the
	// transaction; the unit of work runs the whole message again.
	var events []domain.Event
	err := w.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		events, err = w.receiveTx(ctx, tx, m)
		return err
	})
	if err == nil {
		telemetryOf(w.Telemetry).EventsEmitted(ctx, events)
	}
	return err
}

func (w *WhatsApp) receiveTx(ctx context.Context, tx ports.Tx, m ports.InboundMessage) ([]domain.Event, error) {
	now := w.Clock.Now()
	// Only the message id's digest is kept: Meta's ids carry the sender's
	// phone number.
	fresh, err := tx.Conversations().RecordMessage(ctx, m.ChannelID, domain.MessageKey(m.MessageID), now)
	if err != nil || !fresh {
		return nil, err
	}
	convID, created, err := tx.Conversations().Open(ctx, m.ChannelID, m.Sender, now)
	if err != nil || !created {
		return nil, err
	}
	source, err := w.claimQuotedClick(ctx, tx, m.Text, now)
	if err != nil {
		return nil, err
	}
	newSource := false
	if source == nil && m.Referral != nil {
		ref, err := w.Refs.NewCorrelationID()
		if err != nil {
			return nil, fmt.Errorf("new correlation id: %w", err)
		}
		if source, err = domain.ClickFromReferral(ref, *m.Referral, now); err != nil {
			return nil, err
		}
		newSource = true
	}
	lead, err := domain.StartLead(convID, m.ChannelID, m.Sender, source, w.IDs.NewID(), now)
	if err != nil {
		return nil, err
	}
	switch {
	case source != nil && newSource:
		err = tx.InboundSources().Add(ctx, source)
	case source != nil:
		err = tx.InboundSources().SaveCorrelation(ctx, source)
	}
	if err != nil {
		return nil, err
	}
	if err := tx.Leads().Add(ctx, lead); err != nil {
		return nil, err
	}
	events := lead.PullEvents()
	return events, publish(ctx, tx, now, events)
}

// claimQuotedClick returns the first click the text quotes that may still be
// correlated, locked for this transaction, or nil. The lock makes a second
// conversation quoting the same reference wait and then find it taken.
func (w *WhatsApp) claimQuotedClick(ctx context.Context, tx ports.Tx, text string, now time.Time) (*domain.InboundSource, error) {
	for _, ref := range domain.ExtractReferences(text) {
		s, err := tx.InboundSources().ByCorrelationIDForUpdate(ctx, ref)
		if errors.Is(err, domain.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if s.CanCorrelate(now, w.Window) {
			return s, nil
		}
	}
	return nil, nil
}

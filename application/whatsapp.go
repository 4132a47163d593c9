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

// messagesPerTx is how many messages of a batch one transaction handles.
// One transaction and a handful of statements per chunk, instead of both per
// message, is what makes a 1 MiB batch (about 9,000 messages) fast; the
// bound keeps the clicks a chunk locks from being held for long.
const messagesPerTx = 500

// ReceiveMessages handles a batch a chunk at a time, in order. A message id
// already seen changes nothing; the first message of a conversation opens
// its lead, correlated to the click it quotes or the ad it came from. A chunk
// that fails for any reason is rolled back and its messages are handled
// again one transaction each, so a message the domain refuses (it would be
// refused on every redelivery too) is skipped without costing the others.
func (w *WhatsApp) ReceiveMessages(ctx context.Context, msgs []ports.InboundMessage) error {
	for start := 0; start < len(msgs); start += messagesPerTx {
		chunk := msgs[start:min(start+messagesPerTx, len(msgs))]
		if len(chunk) > 1 {
			err := w.receive(ctx, chunk)
			if err == nil {
				continue
			}
			if ctx.Err() != nil {
				return fmt.Errorf("messages from %s: %w", chunk[0].MessageID, err)
			}
		}
		for i := range chunk {
			err := w.receive(ctx, chunk[i:i+1])
			if errors.Is(err, domain.ErrInvalidInput) {
				// Refused on every redelivery too: skip it rather than
				// fail the whole batch.
				continue
			}
			if err != nil {
				return fmt.Errorf("message %s: %w", chunk[i].MessageID, err)
			}
		}
	}
	return nil
}

// receive handles messages in one transaction. A clash on a freshly drawn
// correlation id (referral clicks) fails it on the unique key; the unit of
// work runs it again, and the new run draws fresh ids.
func (w *WhatsApp) receive(ctx context.Context, msgs []ports.InboundMessage) error {
	var events []domain.Event
	err := w.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		events, err = w.receiveTx(ctx, tx, msgs)
		return err
	})
	if err != nil {
		return err
	}
	telemetryOf(w.Telemetry).EventsEmitted(ctx, events)
	return nil
}

// firstMessage is the first message of a conversation this transaction
// opened.
type firstMessage struct {
	msg            ports.InboundMessage
	conversationID int64
	at             time.Time
}

// receiveTx applies the lead journey to msgs, set by set rather than message
// by message, with the same outcome as handling them one after another:
//
//  1. the message ids are recorded at once; the ones seen before (stored,
//     or earlier in msgs) change nothing;
//  2. the new messages' conversations are opened at once, in order; a
//     conversation that existed, or that an earlier message opened, makes
//     no lead;
//  3. every click the new conversations' first messages quote is locked
//     (so a conversation elsewhere waits, then finds it taken), and each
//     message in turn claims the first of its references that may still be
//     correlated: a click claimed by an earlier message is taken;
//  4. a message that claimed nothing and comes from an ad gets a click made
//     from its referral;
//  5. the leads, the clicks' correlations and the events are written, a
//     statement each.
func (w *WhatsApp) receiveTx(ctx context.Context, tx ports.Tx, msgs []ports.InboundMessage) ([]domain.Event, error) {
	keys := make([]ports.MessageKey, len(msgs))
	for i, m := range msgs {
		// Only the message id's digest is kept: Meta's ids carry the
		// sender's phone number.
		keys[i] = ports.MessageKey{ChannelID: m.ChannelID, MessageID: domain.MessageKey(m.MessageID)}
	}
	fresh, err := tx.Conversations().RecordMessages(ctx, keys, w.Clock.Now())
	if err != nil {
		return nil, err
	}
	var news []ports.NewConversation
	var newMsgs []ports.InboundMessage
	for i, m := range msgs {
		if fresh[i] {
			news = append(news, ports.NewConversation{ChannelID: m.ChannelID, Sender: m.Sender, At: w.Clock.Now()})
			newMsgs = append(newMsgs, m)
		}
	}
	if len(news) == 0 {
		return nil, nil
	}
	ids, err := tx.Conversations().Open(ctx, news)
	if err != nil {
		return nil, err
	}
	var firsts []firstMessage
	var quoted []domain.CorrelationID
	for i, id := range ids {
		if id == 0 {
			continue
		}
		firsts = append(firsts, firstMessage{msg: newMsgs[i], conversationID: id, at: news[i].At})
		quoted = append(quoted, domain.ExtractReferences(newMsgs[i].Text)...)
	}
	if len(firsts) == 0 {
		return nil, nil
	}
	clicks, err := tx.InboundSources().ByCorrelationIDsForUpdate(ctx, quoted)
	if err != nil {
		return nil, err
	}

	var (
		leads            []*domain.Lead
		claimed, fromAds []*domain.InboundSource
		events           []domain.Event
	)
	for _, f := range firsts {
		source := w.claimQuotedClick(clicks, f.msg.Text, f.at)
		fromAd := false
		// A referral whose every identifying field is unusable (a NUL
		// byte) is no attribution: the lead starts new, as without one.
		if source == nil && f.msg.Referral != nil && f.msg.Referral.Storable().Identifies() {
			ref, err := w.Refs.NewCorrelationID()
			if err != nil {
				return nil, fmt.Errorf("new correlation id: %w", err)
			}
			if source, err = domain.ClickFromReferral(ref, *f.msg.Referral, f.at); err != nil {
				return nil, err
			}
			fromAd = true
		}
		lead, err := domain.StartLead(f.conversationID, f.msg.ChannelID, f.msg.Sender, source, w.IDs.NewID(), f.at)
		if err != nil {
			return nil, err
		}
		switch {
		case fromAd:
			fromAds = append(fromAds, source)
		case source != nil:
			claimed = append(claimed, source)
		}
		leads = append(leads, lead)
		events = append(events, lead.PullEvents()...)
	}
	if err := tx.InboundSources().Add(ctx, fromAds...); err != nil {
		return nil, err
	}
	if err := tx.InboundSources().SaveCorrelation(ctx, claimed...); err != nil {
		return nil, err
	}
	if err := tx.Leads().Add(ctx, leads...); err != nil {
		return nil, err
	}
	return events, publish(ctx, tx, w.Clock.Now(), events)
}

// claimQuotedClick returns the first click the text quotes that may still be
// correlated, or nil. The clicks were locked for this transaction; one that
// an earlier message of it claimed is already correlated.
func (w *WhatsApp) claimQuotedClick(clicks map[domain.CorrelationID]*domain.InboundSource, text string, now time.Time) *domain.InboundSource {
	for _, ref := range domain.ExtractReferences(text) {
		if s, ok := clicks[ref]; ok && s.CanCorrelate(now, w.Window) {
			return s
		}
	}
	return nil
}

package application

import (
	"context"
	"fmt"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// Leads is the AI agent's access to a conversation's lead.
type Leads struct {
	UoW   ports.UnitOfWork
	Clock ports.Clock
	IDs   ports.IDGenerator
	// Required are the fields that complete a lead.
	Required  []string
	Telemetry ports.Telemetry
}

var _ ports.LeadAgentAPI = (*Leads)(nil)

// GetLead returns the lead or domain.ErrNotFound.
func (l *Leads) GetLead(ctx context.Context, conversationID int64) (ports.LeadView, error) {
	var view ports.LeadView
	err := l.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		lead, err := tx.Leads().ByConversation(ctx, conversationID, false)
		if err != nil {
			return err
		}
		if lead.IsErased() {
			// For the agent an erased lead is gone: there is nothing of
			// the person left to show, and nothing may be added.
			return fmt.Errorf("lead of conversation %d was erased: %w", conversationID, domain.ErrNotFound)
		}
		view = leadView(lead)
		return nil
	})
	if err != nil {
		return view, fmt.Errorf("get lead of conversation %d: %w", conversationID, err)
	}
	return view, nil
}

// UpdateLead merges the agent's data and completes the lead when it may;
// completing emits lead.complete in the same transaction, once. The lead
// checks the data itself (Lead.Update), so a refused update changes nothing.
func (l *Leads) UpdateLead(ctx context.Context, cmd ports.UpdateLeadCommand) (ports.LeadView, error) {
	var (
		view   ports.LeadView
		events []domain.Event
	)
	err := l.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		lead, err := tx.Leads().ByConversation(ctx, cmd.ConversationID, true)
		if err != nil {
			return err
		}
		err = lead.Update(domain.LeadUpdate{Data: cmd.Data, Complete: cmd.Complete, Required: l.Required,
			EventID: l.IDs.NewID(), Now: l.Clock.Now()})
		if err != nil {
			return err
		}
		if err := tx.Leads().Save(ctx, lead); err != nil {
			return err
		}
		view = leadView(lead)
		events = lead.PullEvents()
		return publish(ctx, tx, l.Clock.Now(), events)
	})
	if err != nil {
		return ports.LeadView{}, fmt.Errorf("update lead of conversation %d: %w", cmd.ConversationID, err)
	}
	telemetryOf(l.Telemetry).EventsEmitted(ctx, events)
	return view, nil
}

func leadView(l *domain.Lead) ports.LeadView {
	r := l.Row()
	return ports.LeadView{ConversationID: r.ConversationID, CorrelationID: r.CorrelationID, Status: r.Status,
		PhoneNumber: r.Sender.Phone, BSUID: r.Sender.BSUID, ChannelID: r.ChannelID, Data: r.Data,
		CreatedAt: r.CreatedAt, CorrelatedAt: r.CorrelatedAt, CompletedAt: r.CompletedAt}
}

package postgres_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/aurix/integrations/adapters/postgres"
	"github.com/aurix/integrations/application"
	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// countingUoW counts the transactions a use case runs.
type countingUoW struct {
	ports.UnitOfWork
	n atomic.Int64
}

func (c *countingUoW) Do(ctx context.Context, fn func(ctx context.Context, tx ports.Tx) error) error {
	c.n.Add(1)
	return c.UnitOfWork.Do(ctx, fn)
}

// statementCounter counts the statements bun sends.
type statementCounter struct{ n atomic.Int64 }

func (s *statementCounter) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

func (s *statementCounter) AfterQuery(context.Context, *bun.QueryEvent) { s.n.Add(1) }

// badRefs hands out a correlation id the domain refuses, so every referral
// click fails to be made: a message the domain refuses on every try.
type badRefs struct{}

func (badRefs) NewCorrelationID() (domain.CorrelationID, error) { return "O-bad", nil }

type waBundle struct {
	db         *postgres.DB
	uow        *countingUoW
	statements *statementCounter
	wa         *application.WhatsApp
}

func setupWhatsApp(t *testing.T, refs ports.CorrelationIDGenerator) waBundle {
	t.Helper()
	b := setupUoW(t)
	stmts := &statementCounter{}
	uow := &countingUoW{UnitOfWork: postgres.NewUnitOfWork(b.db.Bun.WithQueryHook(stmts), postgres.UnitOfWorkOptions{})}
	clock := &tickingClock{now: time.Now()}
	return waBundle{db: b.db, uow: uow, statements: stmts,
		wa: &application.WhatsApp{UoW: uow, Clock: clock, IDs: &seqIDs{}, Refs: refs, Window: 24 * time.Hour}}
}

func waText(n int, phone, text string) ports.InboundMessage {
	return ports.InboundMessage{MessageID: fmt.Sprintf("wamid.%d", n), ChannelID: "791163770738681",
		Sender: domain.Sender{Phone: phone}, Text: text}
}

func phoneOf(i int) string { return fmt.Sprintf("+1555%07d", i) }

// TestReceiveMessages_ABatchIsAFewTransactions: a batch of 1,000 new
// conversations is handled in a couple of transactions and a handful of
// statements, not one transaction and several statements per message (which
// made a 1 MiB batch take tens of seconds). A redelivery of the batch is one
// statement and changes nothing.
func TestReceiveMessages_ABatchIsAFewTransactions(t *testing.T) {
	t.Parallel()
	b := setupWhatsApp(t, &fixedRefs{})
	ctx := context.Background()
	msgs := make([]ports.InboundMessage, 1000)
	for i := range msgs {
		msgs[i] = waText(i, phoneOf(i), "hello")
	}
	require.NoError(t, b.wa.ReceiveMessages(ctx, msgs))
	assert.Equal(t, 1000, count(t, b.db, "conversations"))
	assert.Equal(t, 1000, count(t, b.db, "leads"))
	assert.Equal(t, 1000, count(t, b.db, "whatsapp_messages"))
	assert.LessOrEqual(t, b.uow.n.Load(), int64(2), "transactions for 1,000 messages")
	assert.LessOrEqual(t, b.statements.n.Load(), int64(20), "statements for 1,000 messages")

	b.uow.n.Store(0)
	b.statements.n.Store(0)
	require.NoError(t, b.wa.ReceiveMessages(ctx, msgs))
	assert.Equal(t, 1000, count(t, b.db, "conversations"))
	assert.Equal(t, 1000, count(t, b.db, "leads"))
	assert.LessOrEqual(t, b.statements.n.Load(), int64(6), "statements for a redelivered batch")
}

// TestReceiveMessages_ARefusedMessageCostsOnlyItself: a message the domain
// refuses (here a referral whose click cannot be made) is skipped; the other
// messages of its chunk and of the batch are kept, and a redelivery of the
// batch changes nothing.
func TestReceiveMessages_ARefusedMessageCostsOnlyItself(t *testing.T) {
	t.Parallel()
	b := setupWhatsApp(t, badRefs{})
	ctx := context.Background()
	msgs := make([]ports.InboundMessage, 1200)
	for i := range msgs {
		msgs[i] = waText(i, phoneOf(i), "hello")
	}
	refused := &msgs[700]
	refused.Referral = &domain.ReferralSource{SourceURL: "https://fb.me/ad", CtwaClid: "clid"}
	require.NoError(t, b.wa.ReceiveMessages(ctx, msgs))
	assert.Equal(t, 1199, count(t, b.db, "leads"))
	var n int
	require.NoError(t, b.db.SQL.QueryRow("SELECT count(*) FROM conversations WHERE phone = $1", refused.Sender.Phone).Scan(&n))
	assert.Equal(t, 0, n, "the refused message opened no conversation")

	require.NoError(t, b.wa.ReceiveMessages(ctx, msgs))
	assert.Equal(t, 1199, count(t, b.db, "leads"))
	assert.Equal(t, 1199, count(t, b.db, "conversations"))
}

// TestReceiveMessages_BatchKeepsTheJourneyRules: inside one batch (one
// chunk) the outcome is that of messages handled one after another: a
// message id twice counts once, a conversation's first message decides its
// lead, a sender known by BSUID is the same sender, and a click quoted by two
// new conversations goes to the first one only.
func TestReceiveMessages_BatchKeepsTheJourneyRules(t *testing.T) {
	t.Parallel()
	b := setupWhatsApp(t, &fixedRefs{refs: []domain.CorrelationID{"O-CTWA01"}})
	ctx := context.Background()
	uow := postgres.NewUnitOfWork(b.db.Bun, postgres.UnitOfWorkOptions{})
	for _, ref := range []string{"O-CLICK1", "O-CLICK2"} {
		require.NoError(t, uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			s, err := domain.RecordClick(domain.NewClick{CorrelationID: domain.CorrelationID(ref), ClickURL: "https://example.com/?utm_source=x",
				DeviceID: "d", Now: time.Now().Add(-time.Minute)})
			require.NoError(t, err)
			return tx.InboundSources().Add(ctx, s)
		}))
	}
	both := domain.Sender{Phone: "+15550000005", BSUID: "US.5"}
	msgs := []ports.InboundMessage{
		waText(1, "+15550000001", "no reference yet"),
		waText(2, "+15550000001", "now O-CLICK1"), // not the first message: no click
		waText(3, "+15550000002", "O-CLICK1 please"),
		waText(3, "+15550000009", "O-CLICK2"), // id seen a moment ago: nothing
		waText(4, "+15550000003", "O-CLICK1 too, or O-CLICK2"),
		{MessageID: "wamid.5", ChannelID: "791163770738681", Sender: both, Text: "hi",
			Referral: &domain.ReferralSource{SourceURL: "https://fb.me/ad", CtwaClid: "AR\x00x", SourceType: "ad"}},
		{MessageID: "wamid.6", ChannelID: "791163770738681", Sender: domain.Sender{BSUID: "US.5"}, Text: "O-CLICK2"},
	}
	require.NoError(t, b.wa.ReceiveMessages(ctx, msgs))
	assert.Equal(t, int64(1), b.uow.n.Load(), "one transaction")

	rows, err := b.db.SQL.Query(`SELECT coalesce(c.phone, c.bsuid), l.status, coalesce(l.correlation_id, '') FROM leads l
		JOIN conversations c ON c.id = l.conversation_id`)
	require.NoError(t, err)
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var phone, status, ref string
		require.NoError(t, rows.Scan(&phone, &status, &ref))
		got[phone] = status + " " + ref
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, map[string]string{
		"+15550000001": "new ",
		"+15550000002": "correlated O-CLICK1",
		"+15550000003": "correlated O-CLICK2",
		"+15550000005": "correlated O-CTWA01",
	}, got)

	// The ad's click keeps what could be stored; the NUL-bearing id is left out.
	var clickURL, params string
	require.NoError(t, b.db.SQL.QueryRow(`SELECT click_url, parsed_params::text FROM inbound_sources WHERE correlation_id = 'O-CTWA01'`).
		Scan(&clickURL, &params))
	assert.Equal(t, "https://fb.me/ad", clickURL)
	assert.JSONEq(t, `{"source_type":"ad"}`, params)
	assert.Equal(t, 3, count(t, b.db, "outbox"), "three lead.correlated events")
	assert.Equal(t, 4, count(t, b.db, "conversations"))
	assert.Equal(t, 6, count(t, b.db, "whatsapp_messages"))
}

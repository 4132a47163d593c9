package application_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/postgres"
	"github.com/aurix/integrations/adapters/system"
	"github.com/aurix/integrations/application"
	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// TestClicks_GroupedCommitTogether: 120 clicks at once, with grouping on,
// take fewer transactions than clicks; each caller gets its own receipt
// once its rows are there (a click, an event and a delivery each, matching
// the receipt), and one click the domain refuses is answered with its own
// error while the clicks it shared a transaction with are recorded.
func TestClicks_GroupedCommitTogether(t *testing.T) {
	t.Parallel()
	db := conflictFixture(t)
	uow := &runCounter{UnitOfWork: postgres.NewUnitOfWork(db.Bun, postgres.UnitOfWorkOptions{})}
	clicks := &application.Clicks{UoW: uow, Clock: system.Clock{}, IDs: system.UUIDs{}, Refs: system.CorrelationIDs{},
		WhatsApp: domain.WhatsAppLink{Number: "15550783881"}}
	clicks.StartGrouping(2)

	const n = 120
	const bad = 17
	receipts := make([]ports.ClickReceipt, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			url := fmt.Sprintf("https://example.com/?utm_source=s%d", i)
			if i == bad {
				url = "https://example.com/?x=" + strings.Repeat("a", domain.MaxClickURLBytes)
			}
			receipts[i], errs[i] = clicks.RecordClick(context.Background(),
				ports.RecordClickCommand{ClickURL: url, DeviceID: fmt.Sprintf("dev-%d", i)})
			if errs[i] == nil {
				// Answered after the commit: the row is visible now.
				var device string
				require.NoError(t, db.SQL.QueryRow(`SELECT device_id FROM inbound_sources WHERE correlation_id = $1`,
					string(receipts[i].CorrelationID)).Scan(&device))
				assert.Equal(t, fmt.Sprintf("dev-%d", i), device)
			}
		})
	}
	close(start)
	wg.Wait()

	var refused *domain.ValidationError
	require.ErrorAs(t, errs[bad], &refused, "the refused click gets its own answer")
	seen := map[domain.CorrelationID]bool{}
	for i, err := range errs {
		if i == bad {
			continue
		}
		require.NoError(t, err, "click %d", i)
		assert.False(t, seen[receipts[i].CorrelationID], "each click its own reference")
		seen[receipts[i].CorrelationID] = true
	}
	var clicksN, events, deliveries int
	require.NoError(t, db.SQL.QueryRow(`SELECT (SELECT count(*) FROM inbound_sources), (SELECT count(*) FROM outbox),
		(SELECT count(*) FROM webhook_deliveries)`).Scan(&clicksN, &events, &deliveries))
	assert.Equal(t, []int{n - 1, n - 1, n - 1}, []int{clicksN, events, deliveries})
	var mismatched int
	require.NoError(t, db.SQL.QueryRow(`SELECT count(*) FROM inbound_sources s JOIN outbox o ON o.correlation_id = s.correlation_id
		WHERE convert_from(o.payload, 'UTF8')::jsonb -> 'data' ->> 'device_id' <> s.device_id`).Scan(&mismatched))
	assert.Zero(t, mismatched, "every event carries its own click")
	assert.Less(t, uow.Runs(), n-1, "clicks shared transactions")
	t.Logf("%d clicks in %d transactions", n-1, uow.Runs())
}

// unavailableUoW fails every transaction as a database that is down does,
// after a moment (as waiting for a connection would), so that clicks
// arriving meanwhile queue up for the next shared transaction.
type unavailableUoW struct {
	mu   sync.Mutex
	runs int
}

func (u *unavailableUoW) Do(context.Context, func(context.Context, ports.Tx) error) error {
	return u.fail()
}

func (u *unavailableUoW) Write(context.Context, func(context.Context, ports.Writes) error) error {
	return u.fail()
}

func (u *unavailableUoW) fail() error {
	u.mu.Lock()
	u.runs++
	u.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	return fmt.Errorf("transaction: %w", domain.ErrUnavailable)
}

// TestClicks_GroupedOutageIsEveryonesAnswerAtOnce: when the database is
// unavailable, a shared transaction's failure is the answer of each of its
// clicks, without trying them again one by one (each would wait out the same
// outage).
func TestClicks_GroupedOutageIsEveryonesAnswerAtOnce(t *testing.T) {
	t.Parallel()
	uow := &unavailableUoW{}
	clicks := &application.Clicks{UoW: uow, Clock: system.Clock{}, IDs: system.UUIDs{}, Refs: system.CorrelationIDs{},
		WhatsApp: domain.WhatsAppLink{Number: "15550783881"}}
	clicks.StartGrouping(1)
	const n = 40
	var wg sync.WaitGroup
	var failed sync.Map
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, err := clicks.RecordClick(context.Background(), ports.RecordClickCommand{ClickURL: "https://example.com/"})
			failed.Store(i, errors.Is(err, domain.ErrUnavailable))
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		v, _ := failed.Load(i)
		assert.Equal(t, true, v, "click %d answered unavailable", i)
	}
	assert.Less(t, uow.runs, n/2, "no click was tried again on its own after its group failed")
}

package domain_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/aurix/integrations/domain"
)

// TestReopenRules: what redeliver and recover may reopen, by the status of
// the event's latest series ("" when it has none).
func TestReopenRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		latest               domain.DeliveryStatus
		redeliver, recovered bool
	}{
		{"", true, false},
		{domain.DeliveryPending, false, false},
		{domain.DeliverySucceeded, true, false},
		{domain.DeliveryFailed, true, true},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.redeliver, domain.MayRedeliver(tt.latest), "redeliver after %q", tt.latest)
		assert.Equal(t, tt.recovered, domain.MayRecover(tt.latest), "recover after %q", tt.latest)
	}
}

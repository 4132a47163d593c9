package domain_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/domain"
)

func intp(n int) *int { return &n }

func TestNewDeliverySettings(t *testing.T) {
	t.Parallel()
	s, err := domain.NewDeliverySettings(nil, "", nil)
	require.NoError(t, err)
	assert.Equal(t, domain.DeliverySettings{Ordering: domain.OrderingLead}, s, "defaults: every type, lead order, no limit")
	for _, et := range domain.AllEventTypes {
		assert.True(t, s.Receives(et))
	}
	assert.True(t, s.Receives("lead.some_future_type"), "no list: types added later too")

	s, err = domain.NewDeliverySettings([]string{"*"}, "none", intp(50))
	require.NoError(t, err)
	assert.Nil(t, s.EventTypes, `"*" means every type`)
	assert.False(t, s.Ordered())
	assert.Equal(t, 50, s.MaxPerSecond)

	s, err = domain.NewDeliverySettings([]string{"lead.complete", "lead.correlated", "lead.complete"}, "lead", nil)
	require.NoError(t, err)
	assert.Equal(t, []domain.EventType{domain.EventLeadComplete, domain.EventLeadCorrelated}, s.EventTypes)
	assert.True(t, s.Receives(domain.EventLeadComplete))
	assert.False(t, s.Receives(domain.EventWidgetClick))
	assert.True(t, s.Ordered())
}

func TestNewDeliverySettings_Refuses(t *testing.T) {
	t.Parallel()
	_, err := domain.NewDeliverySettings([]string{"widget.click", "lead.lost"}, "random", intp(0))
	require.Error(t, err)
	assert.ErrorIs(t, err, domain.ErrInvalidInput)
	var ve *domain.ValidationError
	require.True(t, errors.As(err, &ve))
	require.Len(t, ve.Fields, 3, "every problem at once")
	assert.Equal(t, "event_types", ve.Fields[0].Field)
	assert.Contains(t, ve.Fields[0].Message, `"lead.lost"`, "names the unknown type")
	assert.Equal(t, "ordering", ve.Fields[1].Field)
	assert.Equal(t, "max_per_second", ve.Fields[2].Field)

	_, err = domain.NewDeliverySettings([]string{}, "", nil)
	assert.ErrorIs(t, err, domain.ErrInvalidInput, "an empty list would receive nothing")
	_, err = domain.NewDeliverySettings(nil, "", intp(domain.MaxPerSecondLimit+1))
	assert.ErrorIs(t, err, domain.ErrInvalidInput)
}

func TestWebhookConfig_ReceivesOnlyWhenActiveAndSubscribed(t *testing.T) {
	t.Parallel()
	s, err := domain.NewDeliverySettings([]string{"lead.complete"}, "", nil)
	require.NoError(t, err)
	cfg := domain.NewWebhookConfig("c1", "topkee", "https://a.example/h", s, true, domain.NewSecret("x"), t0)
	assert.True(t, cfg.Receives(domain.EventLeadComplete))
	assert.False(t, cfg.Receives(domain.EventWidgetClick))
	off := false
	cfg.Update("https://a.example/h", s, &off, t0)
	assert.False(t, cfg.Receives(domain.EventLeadComplete))
}

package bootstrap_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/bootstrap"
)

// minimalEnv is the smallest environment LoadConfig accepts.
func minimalEnv(extra map[string]string) map[string]string {
	env := map[string]string{
		"AURIX_WHATSAPP_NUMBER":       "+15550783881",
		"AURIX_WHATSAPP_VERIFY_TOKEN": "verify",
		"AURIX_WHATSAPP_APP_SECRET":   "app-secret",
		"AURIX_AGENT_API_KEY":         "agent-key",
		"TOPKEE_INTEGRATION_API_KEY":  "topkee-key",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func TestLoadConfig_MinimalEnvironment(t *testing.T) {
	t.Parallel()
	c, err := bootstrap.LoadConfig(minimalEnv(nil))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"topkee": "topkee-key"}, c.IntegrationKeys)
}

// TestLoadConfig_ServicesSharingAKeyVariable: "a-b" and "a_b" would both read
// A_B_INTEGRATION_API_KEY, so each would accept the other's key; start-up
// stops and names both services and the variable.
func TestLoadConfig_ServicesSharingAKeyVariable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		integrations string
		want         []string
	}{
		{"dash and underscore", "a-b,a_b", []string{`"a-b"`, `"a_b"`, "A_B_INTEGRATION_API_KEY"}},
		{"underscore first", "shop_one,topkee,shop-one", []string{`"shop_one"`, `"shop-one"`, "SHOP_ONE_INTEGRATION_API_KEY"}},
		{"listed twice", "topkee,other,topkee", []string{`"topkee"`, "listed twice"}},
		{"listed twice with spaces", "topkee, topkee", []string{`"topkee"`, "listed twice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := bootstrap.LoadConfig(minimalEnv(map[string]string{
				"AURIX_INTEGRATIONS":           tt.integrations,
				"A_B_INTEGRATION_API_KEY":      "ab-key",
				"SHOP_ONE_INTEGRATION_API_KEY": "shop-key",
				"OTHER_INTEGRATION_API_KEY":    "other-key",
			}))
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Contains(t, err.Error(), "AURIX_INTEGRATIONS")
			assert.NotContains(t, err.Error(), "ab-key", "a key's value never reaches an error")
			assert.NotContains(t, err.Error(), "shop-key")
		})
	}
}

// TestLoadConfig_DistinctServices: services whose variables differ all load.
func TestLoadConfig_DistinctServices(t *testing.T) {
	t.Parallel()
	c, err := bootstrap.LoadConfig(minimalEnv(map[string]string{
		"AURIX_INTEGRATIONS":         "topkee,a-b,ab",
		"A_B_INTEGRATION_API_KEY":    "ab-key",
		"AB_INTEGRATION_API_KEY":     "ab2-key",
		"TOPKEE_INTEGRATION_API_KEY": "topkee-key",
	}))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"topkee": "topkee-key", "a-b": "ab-key", "ab": "ab2-key"}, c.IntegrationKeys)
}

// TestLoadConfig_Retention: each kind has its own window (the issue's
// defaults), 0 keeps forever, a negative window or interval stops start-up
// naming the variable.
func TestLoadConfig_Retention(t *testing.T) {
	t.Parallel()
	c, err := bootstrap.LoadConfig(minimalEnv(nil))
	require.NoError(t, err)
	p := c.RetentionPolicy()
	assert.Equal(t, 720*time.Hour, p.DeliveryLog)
	assert.Equal(t, 720*time.Hour, p.MessageIDs)
	assert.Equal(t, 2160*time.Hour, p.UncorrelatedClicks)
	assert.Zero(t, p.Leads, "leads are kept forever by default")
	assert.Equal(t, c.CorrelationWindow, p.CorrelationWindow)
	assert.Equal(t, time.Hour, c.RetentionInterval)
	assert.False(t, c.IPAnonymize, "the partner contract's ip_address is whole by default")

	for name, value := range map[string]string{
		"AURIX_RETENTION_DELIVERY_LOG": "-1s", "AURIX_RETENTION_MESSAGE_IDS": "-1h",
		"AURIX_RETENTION_UNCORRELATED_CLICKS": "-5m", "AURIX_RETENTION_LEADS": "-1ns", "AURIX_RETENTION_INTERVAL": "0",
	} {
		_, err := bootstrap.LoadConfig(minimalEnv(map[string]string{name: value}))
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), name)
	}
	_, err = bootstrap.LoadConfig(minimalEnv(map[string]string{"AURIX_RETENTION_LEADS": "soon"}))
	require.Error(t, err, "not a duration")
}

// TestRiverJobRetention: River's cleaner keeps finished jobs for its own
// defaults, never longer than the shortest retention window set.
func TestRiverJobRetention(t *testing.T) {
	t.Parallel()
	c, err := bootstrap.LoadConfig(minimalEnv(nil))
	require.NoError(t, err)
	completed, cancelled, discarded := c.RiverJobRetention()
	assert.Equal(t, []time.Duration{24 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}, []time.Duration{completed, cancelled, discarded},
		"the defaults fit under every 720h window")

	c, err = bootstrap.LoadConfig(minimalEnv(map[string]string{"AURIX_RETENTION_DELIVERY_LOG": "0", "AURIX_RETENTION_MESSAGE_IDS": "0",
		"AURIX_RETENTION_UNCORRELATED_CLICKS": "0", "AURIX_RETENTION_LEADS": "72h"}))
	require.NoError(t, err)
	completed, cancelled, discarded = c.RiverJobRetention()
	assert.Equal(t, []time.Duration{24 * time.Hour, 24 * time.Hour, 72 * time.Hour}, []time.Duration{completed, cancelled, discarded})

	c, err = bootstrap.LoadConfig(minimalEnv(map[string]string{"AURIX_RETENTION_MESSAGE_IDS": "10s"}))
	require.NoError(t, err)
	completed, cancelled, discarded = c.RiverJobRetention()
	assert.Equal(t, []time.Duration{10 * time.Second, 10 * time.Second, 10 * time.Second}, []time.Duration{completed, cancelled, discarded})
}

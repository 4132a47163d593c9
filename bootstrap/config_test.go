package bootstrap_test

import (
	"testing"

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

package bootstrap_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/bootstrap"
)

// TestMetricsAddrMustDifferFromHTTPAddr: one address cannot serve both, so
// the setting is refused at start-up rather than failing to listen.
func TestMetricsAddrMustDifferFromHTTPAddr(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"AURIX_WHATSAPP_NUMBER": "+15550783881", "TOPKEE_INTEGRATION_API_KEY": "k", "AURIX_WHATSAPP_VERIFY_TOKEN": "v",
		"AURIX_WHATSAPP_APP_SECRET": "s", "AURIX_AGENT_API_KEY": "a",
		"AURIX_HTTP_ADDR": "127.0.0.1:8080", "AURIX_METRICS_ADDR": "127.0.0.1:8080",
	}
	_, err := bootstrap.LoadConfig(env)
	require.ErrorContains(t, err, "AURIX_METRICS_ADDR must differ from AURIX_HTTP_ADDR")

	env["AURIX_METRICS_ADDR"] = "127.0.0.1:9464"
	cfg, err := bootstrap.LoadConfig(env)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9464", cfg.MetricsAddr)
}

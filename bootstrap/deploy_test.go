package bootstrap_test

import (
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAlertingRules checks the shipped Prometheus rules with promtool (from
// Debian's prometheus package, which go tool task test installs): they
// parse, and each alert fires on the series it is written for and not
// before.
func TestAlertingRules(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	require.NoError(t, err, "promtool is needed (Debian: apt-get install prometheus; go tool task test installs it)")
	for _, args := range [][]string{
		{"check", "rules", "aurix-alerts.yml"},
		{"test", "rules", "aurix-alerts.test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "deploy/prometheus"
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "promtool %v:\n%s", args, out)
	}
}

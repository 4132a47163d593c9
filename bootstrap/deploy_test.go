package bootstrap_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/bootstrap"
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

// unitSettings reads the Key=Value lines of a systemd unit; Environment
// lines are split into their variables.
func unitSettings(t *testing.T, path string) (map[string]string, map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	settings, env := map[string]string{}, map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "%s: %q", path, line)
		if k == "Environment" {
			ek, ev, _ := strings.Cut(v, "=")
			env[ek] = ev
			continue
		}
		settings[k] = v
	}
	return settings, env
}

// TestSystemdUnits checks the sample units under deploy/systemd: systemd
// itself accepts them (systemd-analyze verify, with ExecStart pointed at an
// executable that exists here), each runs `aurix serve` in the role its name
// says, leaves migrations to `aurix migrate up`, stops with SIGTERM and
// waits longer than the service's own shutdown budget, and with the sample
// environment file the service's configuration is complete and valid.
func TestSystemdUnits(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	require.NoError(t, err, "systemd-analyze is needed (Debian: apt-get install systemd)")
	self, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	exampleEnv, err := os.ReadFile("deploy/systemd/aurix.env.example")
	require.NoError(t, err)
	shared := map[string]string{}
	for _, line := range strings.Split(string(exampleEnv), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(k, "#") {
			shared[k] = v
		}
	}
	defaults, err := bootstrap.LoadConfig(map[string]string{"AURIX_WHATSAPP_NUMBER": "1", "AURIX_WHATSAPP_VERIFY_TOKEN": "x",
		"AURIX_WHATSAPP_APP_SECRET": "x", "AURIX_AGENT_API_KEY": "x", "TOPKEE_INTEGRATION_API_KEY": "x"})
	require.NoError(t, err)
	for role, unit := range map[string]string{"api": "aurix-api@.service", "worker": "aurix-worker@.service"} {
		path := filepath.Join("deploy/systemd", unit)
		settings, env := unitSettings(t, path)
		assert.Equal(t, "/usr/local/bin/aurix serve", settings["ExecStart"], unit)
		assert.Equal(t, role, env["AURIX_ROLE"], unit)
		assert.Equal(t, "false", env["AURIX_MIGRATE_ON_START"], unit)
		assert.Equal(t, "SIGTERM", settings["KillSignal"], unit)
		stop, err := time.ParseDuration(settings["TimeoutStopSec"])
		require.NoError(t, err, unit)
		assert.Greater(t, stop, defaults.ShutdownTimeout+5*time.Second, "%s: systemd must not kill during a graceful shutdown", unit)

		// The service's configuration from the sample file and the unit.
		environ := map[string]string{}
		for k, v := range shared {
			environ[k] = v
		}
		for k, v := range env {
			environ[k] = strings.ReplaceAll(v, "%i", "0")
		}
		_, err = bootstrap.LoadConfig(environ)
		assert.NoError(t, err, "%s with aurix.env.example", unit)

		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		verified := strings.ReplaceAll(string(raw), "/usr/local/bin/aurix", self)
		require.NoError(t, os.WriteFile(filepath.Join(dir, unit), []byte(verified), 0o600))
	}
	cmd := exec.Command(analyze, "verify", "--man=no", "aurix-api@0.service", "aurix-worker@0.service")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "systemd-analyze verify:\n%s", out)
	assert.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify warns")
}

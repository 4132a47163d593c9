package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The test task must bring what its tests need, as on a fresh CI machine:
// these tests run the real Taskfile with the real task binary, on a PATH of
// fakes only (apt-get, go, id, pg_isready), so nothing is installed, built or
// tested for real: every fake writes what it was asked to a log.

// fakeTools are shell scripts standing in for the machine's commands.
var fakeTools = map[string]string{
	"id":         `echo "$FAKE_UID"`,
	"pg_isready": `exit 0`,
	// apt-get install chromium provides the browser, at CHROMIUM here;
	// prometheus and systemd provide promtool and systemd-analyze.
	"apt-get": `echo "DEBIAN_FRONTEND=$DEBIAN_FRONTEND apt-get $*" >>"$FAKE_LOG"
case "$*" in *install*chromium*) printf '#!/bin/sh\necho Chromium 1.0\n' >"$CHROMIUM"; chmod +x "$CHROMIUM" ;; esac
case "$*" in *install*prometheus*) printf '#!/bin/sh\n' >"$FAKE_BIN/promtool"; chmod +x "$FAKE_BIN/promtool" ;; esac
case "$*" in *install*systemd*) printf '#!/bin/sh\n' >"$FAKE_BIN/systemd-analyze"; chmod +x "$FAKE_BIN/systemd-analyze" ;; esac`,
	// go build -o BIN makes BIN; go test only says what it was asked.
	"go": `echo "go $* (in $PWD, JAEGER_BIN=$JAEGER_BIN)" >>"$FAKE_LOG"
if [ "$1" = build ]; then
  while [ $# -gt 0 ]; do
    if [ "$1" = -o ]; then mkdir -p "$(dirname "$2")"; printf '#!/bin/sh\n' >"$2"; chmod +x "$2"; fi
    shift
  done
fi`,
}

// taskBinary builds the module's task tool once for these tests.
func taskBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "task")
	build := exec.Command("go", "build", "-o", bin, "github.com/go-task/task/v3/cmd/task")
	build.Dir = ".."
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build task: %s", out)
	return bin
}

// freshMachine is a machine where neither Chromium nor Jaeger is there yet.
type freshMachine struct {
	task, dir, log, chromium, jaeger string
	env                              []string
}

func newFreshMachine(t *testing.T, task string, uid string, without ...string) *freshMachine {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	require.NoError(t, os.Mkdir(bin, 0o755))
	for name, body := range fakeTools {
		if slices.Contains(without, name) {
			continue
		}
		script := "#!/bin/sh\nPATH=/usr/bin:/bin\n" + body + "\n"
		require.NoError(t, os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755))
	}
	m := &freshMachine{task: task, dir: dir, log: filepath.Join(dir, "log"),
		chromium: filepath.Join(dir, "chromium"), jaeger: filepath.Join(dir, "cache", "aurix", "jaeger-v1.76.0")}
	m.env = []string{"PATH=" + bin, "HOME=" + filepath.Join(dir, "home"), "XDG_CACHE_HOME=" + filepath.Join(dir, "cache"),
		"CHROMIUM=" + m.chromium, "FAKE_LOG=" + m.log, "FAKE_UID=" + uid, "FAKE_BIN=" + bin}
	return m
}

// run runs `task args...` in the module and returns its output and the log.
func (m *freshMachine) run(t *testing.T, args ...string) (string, []string, error) {
	t.Helper()
	cmd := exec.Command(m.task, args...)
	cmd.Dir = ".."
	cmd.Env = m.env
	out, err := cmd.CombinedOutput()
	raw, readErr := os.ReadFile(m.log)
	if readErr != nil && !os.IsNotExist(readErr) {
		require.NoError(t, readErr)
	}
	var log []string
	if s := strings.TrimSpace(string(raw)); s != "" {
		log = strings.Split(s, "\n")
	}
	require.NoError(t, os.RemoveAll(m.log))
	return string(out), log, err
}

// TestTestTaskBringsChromiumAndJaeger: on a fresh Debian machine as root,
// `task test` installs chromium with apt-get and builds Jaeger with the
// jaeger task's build before it runs go test; the next run finds both and
// only tests.
func TestTestTaskBringsChromiumAndJaeger(t *testing.T) {
	t.Parallel()
	m := newFreshMachine(t, taskBinary(t), "0")
	modRoot, err := filepath.Abs("..")
	require.NoError(t, err)

	out, log, err := m.run(t, "test")
	require.NoError(t, err, out)
	require.Len(t, log, 6, "apt-get update and install (chromium), apt-get update and install (promtool, systemd-analyze), go build (Jaeger), go test:\n%s\n%s",
		strings.Join(log, "\n"), out)
	setup, goTest := log[:5], log[5]
	assert.Contains(t, setup, "DEBIAN_FRONTEND=noninteractive apt-get update -q")
	assert.Contains(t, setup, "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium")
	assert.Contains(t, setup, "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus systemd")
	var apt []string
	for _, l := range setup {
		if strings.Contains(l, "apt-get") {
			apt = append(apt, l)
		}
	}
	assert.Equal(t, []string{"DEBIAN_FRONTEND=noninteractive apt-get update -q",
		"DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium",
		"DEBIAN_FRONTEND=noninteractive apt-get update -q",
		"DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus systemd"}, apt,
		"one apt-get at a time (dpkg's lock)")
	assert.Contains(t, setup, "go build -o "+m.jaeger+" github.com/jaegertracing/jaeger/cmd/jaeger (in "+
		filepath.Join(modRoot, ".tools", "jaeger")+", JAEGER_BIN=)")
	assert.Equal(t, "go test -count=1 -timeout 30m ./... (in "+modRoot+", JAEGER_BIN="+m.jaeger+")", goTest,
		"the tests run last, told where Jaeger is")
	assert.FileExists(t, m.chromium)
	assert.FileExists(t, m.jaeger)

	out, log, err = m.run(t, "test")
	require.NoError(t, err, out)
	assert.Equal(t, []string{"go test -count=1 -timeout 30m ./... (in " + modRoot + ", JAEGER_BIN=" + m.jaeger + ")"}, log,
		"a second run installs and builds nothing")
}

// TestTestTaskSaysWhatToInstall: where it cannot install Chromium (not root,
// or no apt-get) the test task stops before testing and says what to
// install; a run of packages that need no browser needs neither tool.
func TestTestTaskSaysWhatToInstall(t *testing.T) {
	t.Parallel()
	task := taskBinary(t)

	t.Run("Debian, not root", func(t *testing.T) {
		t.Parallel()
		m := newFreshMachine(t, task, "1000")
		out, log, err := m.run(t, "test")
		require.Error(t, err, out)
		assert.Contains(t, out, "need Chromium at "+m.chromium)
		assert.Contains(t, out, "sudo apt-get install -y --no-install-recommends chromium")
		for _, l := range log {
			assert.NotContains(t, l, "apt-get", "nothing installed without root")
			assert.NotContains(t, l, "go test", "no tests run without the browser")
		}
	})

	t.Run("no apt-get", func(t *testing.T) {
		t.Parallel()
		m := newFreshMachine(t, task, "0", "apt-get")
		out, log, err := m.run(t, "test")
		require.Error(t, err, out)
		assert.Contains(t, out, "need Chromium at "+m.chromium)
		assert.Contains(t, out, "set CHROMIUM to its binary")
		for _, l := range log {
			assert.NotContains(t, l, "go test", "no tests run without the browser")
		}
	})

	t.Run("packages without browser tests", func(t *testing.T) {
		t.Parallel()
		m := newFreshMachine(t, task, "1000")
		out, log, err := m.run(t, "test", "--", "-run", "TestX", "./domain/...")
		require.NoError(t, err, out)
		require.Len(t, log, 1, strings.Join(log, "\n"))
		assert.True(t, strings.HasPrefix(log[0], "go test -count=1 -timeout 30m -run TestX ./domain/... "), log[0])
	})
}

package test

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/aurix/integrations"

// layerOf names a project package's layer: its first path element.
func layerOf(pkg string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	layer, _, _ := strings.Cut(rel, "/")
	return layer
}

// adapterOf names the adapter a package of adapters/ belongs to.
func adapterOf(pkg string) string {
	rel := strings.TrimPrefix(pkg, module+"/adapters/")
	name, _, _ := strings.Cut(rel, "/")
	return name
}

// allowed reports whether a package of layer from may depend on to.
func allowed(from, to string) bool {
	lf, lt := layerOf(from), layerOf(to)
	switch lf {
	case "domain":
		return lt == "domain"
	case "ports":
		return lt == "domain" || lt == "ports"
	case "application":
		return lt == "domain" || lt == "ports" || lt == "application"
	case "migrations":
		return lt == "migrations"
	case "adapters":
		switch lt {
		case "domain", "ports", "application":
			return true
		case "migrations":
			return adapterOf(from) == "postgres"
		case "adapters":
			// An adapter may use its own sub-packages, never another adapter.
			return adapterOf(from) == adapterOf(to)
		}
		return false
	case "bootstrap", "test":
		return true
	}
	return false
}

type listedPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// goList runs `go list -json=<fields> <pattern>` in the module and returns
// the packages it lists.
func goList(t *testing.T, fields, pattern string) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json="+fields, pattern)
	cmd.Dir = ".."
	out, err := cmd.Output()
	require.NoError(t, err, "go list")
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []listedPackage
	for {
		var p listedPackage
		err := dec.Decode(&p)
		if err == io.EOF {
			return pkgs
		}
		require.NoError(t, err)
		pkgs = append(pkgs, p)
	}
}

// TestDependencyRule reads `go list -deps` for every package of the module
// and fails when one depends (directly or not) on a layer it may not.
func TestDependencyRule(t *testing.T) {
	t.Parallel()
	seen := 0
	for _, p := range goList(t, "ImportPath,Deps", module+"/...") {
		seen++
		for _, dep := range p.Deps {
			if !strings.HasPrefix(dep, module+"/") && dep != module {
				continue
			}
			if !allowed(p.ImportPath, dep) {
				t.Errorf("%s must not depend on %s (ENGINEERING.md dependency rule)", p.ImportPath, dep)
			}
		}
	}
	require.Greater(t, seen, 8, "go list found too few packages")
}

// TestDependencyRuleCatchesViolations proves the checker itself can fail.
func TestDependencyRuleCatchesViolations(t *testing.T) {
	t.Parallel()
	bad := [][2]string{
		{module + "/domain", module + "/ports"},
		{module + "/ports", module + "/application"},
		{module + "/application", module + "/adapters/postgres"},
		{module + "/adapters/http", module + "/adapters/postgres"},
		{module + "/adapters/river", module + "/bootstrap"},
		{module + "/domain", module + "/migrations"},
		{module + "/adapters/http", module + "/migrations"},
	}
	for _, b := range bad {
		require.False(t, allowed(b[0], b[1]), "%s → %s should be refused", b[0], b[1])
	}
	good := [][2]string{
		{module + "/application", module + "/domain"},
		{module + "/adapters/postgres/pgtest", module + "/adapters/postgres"},
		{module + "/adapters/postgres", module + "/migrations"},
		{module + "/bootstrap", module + "/adapters/http"},
	}
	for _, g := range good {
		require.True(t, allowed(g[0], g[1]), "%s → %s should be allowed", g[0], g[1])
	}
}

// domainForbids reports whether the domain may not import the standard
// library package pkg: it performs no I/O and handles no wire format of a
// transport or a store (ENGINEERING.md, domain/doc.go), and its randomness
// comes in through a port. Pure parsing and formatting (net/url, net/netip,
// net/mail, encoding/json for the events' payloads, log/slog's LogValuer)
// stays allowed.
func domainForbids(pkg string) bool {
	for _, p := range []string{
		"net/http", "net/rpc", "net/smtp", "database/sql", "os", "io/fs", "io/ioutil", "syscall", "log/syslog",
		"crypto/rand", "math/rand", "plugin",
	} {
		if pkg == p || strings.HasPrefix(pkg, p+"/") {
			return true
		}
	}
	// The net package itself dials and listens; its parsing sub-packages
	// are pure. The log package writes to the process's output.
	return pkg == "net" || pkg == "log"
}

// TestDomainImportsNoIO reads the domain packages' imports and fails when
// one imports a standard package that does I/O or belongs to a wire format
// (net/http for its status-code constants, once).
func TestDomainImportsNoIO(t *testing.T) {
	t.Parallel()
	seen := 0
	for _, p := range goList(t, "ImportPath,Imports", module+"/domain/...") {
		seen++
		for _, imp := range p.Imports {
			if domainForbids(imp) {
				t.Errorf("%s must not import %s: the domain does no I/O and knows no wire format", p.ImportPath, imp)
			}
		}
	}
	require.Positive(t, seen, "go list found no domain package")
}

// TestDomainImportRuleCatchesViolations proves the import check can fail.
func TestDomainImportRuleCatchesViolations(t *testing.T) {
	t.Parallel()
	for _, pkg := range []string{"net/http", "net/http/httptest", "net", "database/sql", "database/sql/driver", "os", "os/exec",
		"crypto/rand", "math/rand/v2", "log", "io/fs"} {
		require.True(t, domainForbids(pkg), "%s should be refused", pkg)
	}
	for _, pkg := range []string{"net/url", "net/netip", "net/mail", "encoding/json", "log/slog", "time", "strings", "crypto/sha256",
		"math", "io"} {
		require.False(t, domainForbids(pkg), "%s should be allowed", pkg)
	}
}

// TestTopLevelLayout: the repository's top level holds the agreed entries
// and dot entries (.ci, .tools, the git-ignored .build the tasks build into)
// only, in the working tree too, so no task leaves a bin/ or a binary there.
func TestTopLevelLayout(t *testing.T) {
	t.Parallel()
	agreed := map[string]bool{
		"domain": true, "application": true, "ports": true, "adapters": true, "bootstrap": true,
		"migrations": true, "test": true, "go.mod": true, "go.sum": true, "Taskfile.yml": true, "README.md": true,
	}
	entries, err := os.ReadDir("..")
	require.NoError(t, err)
	var extra []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") && !agreed[e.Name()] {
			extra = append(extra, e.Name())
		}
	}
	require.Empty(t, extra, "top-level entries outside the agreed layout")
}

package test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	riveradapter "github.com/aurix/integrations/adapters/river"
)

// riverUIQueue is the queue River UI must show: the periodic maintenance
// (deliveries are rows the workers claim, not River jobs).
const riverUIQueue = riveradapter.QueueMaintenance

// TestRiverUIInRealBrowser: an operator opens /riverui/ in a browser, the
// browser asks for the admin credentials (a Basic challenge: it would show
// its login prompt, answered here the way that prompt answers it), and River
// UI's queues page lists the maintenance queue.
func TestRiverUIInRealBrowser(t *testing.T) {
	const user, password = "ops", "s3cret-admin"
	svc := startService(t, map[string]string{"AURIX_ADMIN_USER": user, "AURIX_ADMIN_PASSWORD": password})
	// River registers its queues as its producers start; wait for the row
	// rather than for a page that might have loaded before it.
	require.Eventually(t, func() bool {
		var n int
		err := svc.db(t).QueryRow(context.Background(), "SELECT count(*) FROM river_queue WHERE name = $1", riverUIQueue).Scan(&n)
		return err == nil && n == 1
	}, 30*time.Second, 100*time.Millisecond, "River registered no %q queue", riverUIQueue)

	b := newBrowser(t, loggingInAs(user, password))
	b.step("open River UI's queues page", chromedp.Navigate(svc.URL+"/riverui/queues"))
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	// The queues page links each queue by name to its own page.
	href, err := chromedp.Run(ctx, chromedp.Poll[string](`(() => {
		const a = Array.from(document.querySelectorAll('a[href]')).find(a =>
			a.textContent.trim() === `+strconv.Quote(riverUIQueue)+` && a.getBoundingClientRect().width > 0);
		return a ? a.getAttribute('href') : null;
	})()`, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(stepTimeout)))
	shot, shotErr := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if shotErr == nil {
		path := filepath.Join(t.ArtifactDir(), "riverui-queues.png")
		require.NoError(t, os.WriteFile(path, shot, 0o600))
		t.Logf("screenshot of River UI: %s", path)
	}
	b.mu.Lock()
	challenges := b.challenges
	b.mu.Unlock()
	require.NotEmpty(t, challenges, "the browser was never asked to log in (a 401 without a Basic challenge shows no prompt)")
	for _, c := range challenges {
		assert.Equal(t, "basic", c.Scheme)
		assert.Equal(t, "aurix-admin", c.Realm)
	}
	require.NoError(t, err, "River UI's queues page does not list the %q queue", riverUIQueue)
	assert.Equal(t, "/riverui/queues/"+riverUIQueue, href)
}

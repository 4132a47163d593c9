package useragent

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIsBot_RemembersBoundedly: a remembered answer is the answer the
// pattern list gives, asked again or not, and the memo never holds more than
// memoSize User-Agents however many distinct ones arrive.
func TestIsBot_RemembersBoundedly(t *testing.T) {
	t.Parallel()
	d := New()
	const googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	const person = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120 Safari/537.36"
	for range 3 {
		assert.True(t, d.IsBot(googlebot))
		assert.False(t, d.IsBot(person))
	}
	bot, ok := d.memo.Get(googlebot)
	require.True(t, ok, "the answer is remembered")
	assert.True(t, bot)
	for i := range memoSize + 500 {
		ua := fmt.Sprintf("%s build/%d", person, i)
		if i%2 == 0 {
			ua = fmt.Sprintf("Mozilla/5.0 (compatible; Googlebot/2.1; build %d)", i)
		}
		assert.Equal(t, i%2 == 0, d.IsBot(ua), ua)
	}
	assert.Equal(t, memoSize, d.memo.Len(), "bounded")
	assert.True(t, d.IsBot(googlebot), "an answer that fell out is worked out again")
}

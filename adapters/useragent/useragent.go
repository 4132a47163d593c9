// Package useragent tells crawlers, link-preview fetchers and headless
// browsers from people, using crawlerdetect (a Go port of the maintained
// JayBizzle/Crawler-Detect pattern list) plus the few fetchers that matter
// most to a WhatsApp widget, checked first.
package useragent

import (
	"regexp"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/x-way/crawlerdetect"

	"github.com/aurix/integrations/ports"
)

// previewFetchers are the user agents this service must never count as a
// visitor, whatever the upstream list does: WhatsApp's and Facebook's link
// previews, headless browsers, and an empty User-Agent.
var previewFetchers = regexp.MustCompile(`(?i)^$|^WhatsApp/|facebookexternalhit|facebookcatalog|meta-externalagent|Facebot|HeadlessChrome|PhantomJS|Lighthouse|Puppeteer|Playwright|Electron/.*\bHeadless`)

// memoSize bounds the answers remembered: visitors come with a few hundred
// distinct User-Agents, and a flood of random ones only costs the regexes.
const memoSize = 4096

// Detector implements ports.BotDetector. Matching a User-Agent against the
// pattern list is the click's most expensive step (a fifth of the service's
// CPU under load, test/bench/README.md), and most clicks repeat a User-Agent
// seen moments ago, so answers are remembered (an LRU of memoSize entries).
type Detector struct {
	list *crawlerdetect.CrawlerDetect
	memo *lru.Cache[string, bool]
}

// New returns a Detector.
func New() *Detector {
	memo, err := lru.New[string, bool](memoSize)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &Detector{list: crawlerdetect.New(), memo: memo}
}

var _ ports.BotDetector = (*Detector)(nil)

// IsBot reports whether ua is a crawler, preview fetcher or headless browser.
func (d *Detector) IsBot(ua string) bool {
	if bot, ok := d.memo.Get(ua); ok {
		return bot
	}
	bot := previewFetchers.MatchString(ua) || d.list.IsCrawler(ua)
	d.memo.Add(ua, bot)
	return bot
}

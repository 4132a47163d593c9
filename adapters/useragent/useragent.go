// Package useragent tells crawlers, link-preview fetchers and headless
// browsers from people, using crawlerdetect (a Go port of the maintained
// JayBizzle/Crawler-Detect pattern list) plus the few fetchers that matter
// most to a WhatsApp widget, checked first.
package useragent

import (
	"regexp"

	"github.com/x-way/crawlerdetect"

	"github.com/aurix/integrations/ports"
)

// previewFetchers are the user agents this service must never count as a
// visitor, whatever the upstream list does: WhatsApp's and Facebook's link
// previews, headless browsers, and an empty User-Agent.
var previewFetchers = regexp.MustCompile(`(?i)^$|^WhatsApp/|facebookexternalhit|facebookcatalog|meta-externalagent|Facebot|HeadlessChrome|PhantomJS|Lighthouse|Puppeteer|Playwright|Electron/.*\bHeadless`)

// Detector implements ports.BotDetector.
type Detector struct{ list *crawlerdetect.CrawlerDetect }

// New returns a Detector.
func New() *Detector { return &Detector{list: crawlerdetect.New()} }

var _ ports.BotDetector = (*Detector)(nil)

// IsBot reports whether ua is a crawler, preview fetcher or headless browser.
func (d *Detector) IsBot(ua string) bool {
	return previewFetchers.MatchString(ua) || d.list.IsCrawler(ua)
}

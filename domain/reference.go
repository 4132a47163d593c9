package domain

import (
	"regexp"
	"time"
)

// referencePattern finds a correlation id in free text: "O-" and six letters
// or digits, not glued to more of them on either side.
var referencePattern = regexp.MustCompile(`(?:^|[^A-Za-z0-9])(O-[A-Za-z0-9]{6})(?:$|[^A-Za-z0-9])`)

// maxReferences bounds how many candidates one message may offer.
const maxReferences = 5

// ExtractReferences returns the correlation ids a message text carries, in
// order of appearance, without duplicates, at most five.
func ExtractReferences(text string) []CorrelationID {
	var out []CorrelationID
	seen := map[string]bool{}
	rest := text
	for len(out) < maxReferences {
		loc := referencePattern.FindStringSubmatchIndex(rest)
		if loc == nil {
			break
		}
		ref := rest[loc[2]:loc[3]]
		if !seen[ref] {
			seen[ref] = true
			out = append(out, CorrelationID(ref))
		}
		// Continue right after the id so a separator can be shared.
		rest = rest[loc[3]:]
	}
	return out
}

// ReferralSource is what a Click-to-WhatsApp ad referral says about the click.
type ReferralSource struct {
	SourceURL  string
	SourceID   string
	SourceType string
	CtwaClid   string
}

// Storable returns the referral without the fields that are not storable
// text (a NUL byte or invalid UTF-8, which PostgreSQL refuses). Such a field
// is dropped, not repaired: these are opaque ids and a URL, and a value with
// bytes taken out could name another ad or click, a wrong attribution.
func (r ReferralSource) Storable() ReferralSource {
	for _, f := range []*string{&r.SourceURL, &r.SourceID, &r.SourceType, &r.CtwaClid} {
		if checkText(*f) != "" {
			*f = ""
		}
	}
	return r
}

// Identifies reports whether the referral names its ad or click at all:
// source_url, source_id or ctwa_clid.
func (r ReferralSource) Identifies() bool {
	return r.SourceURL != "" || r.SourceID != "" || r.CtwaClid != ""
}

// ClickFromReferral makes the InboundSource a Click-to-WhatsApp referral
// stands for: click_url is the ad's source_url, parsed_params carry ctwa_clid,
// source_id and source_type. A field that is not storable text is left out
// (see Storable) and the rest kept, so one bad field never costs the lead its
// attribution. It records no widget.click: nobody clicked the widget.
func ClickFromReferral(ref CorrelationID, r ReferralSource, now time.Time) (*InboundSource, error) {
	if m := checkCorrelationID(ref); m != "" {
		return nil, invalid("correlation_id", "%s", m)
	}
	r = r.Storable()
	params := MarketingParams{}
	for k, val := range map[string]string{"ctwa_clid": r.CtwaClid, "source_id": r.SourceID, "source_type": r.SourceType} {
		if val != "" {
			params[k] = truncateBytes(val, MaxClickURLBytes)
		}
	}
	return &InboundSource{correlationID: ref, clickURL: truncateBytes(r.SourceURL, MaxClickURLBytes), parsedParams: params,
		createdAt: now.UTC().Truncate(time.Millisecond)}, nil
}

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

// ClickFromReferral makes the InboundSource a Click-to-WhatsApp referral
// stands for: click_url is the ad's source_url, parsed_params carry ctwa_clid,
// source_id and source_type. It records no widget.click: nobody clicked the
// widget.
func ClickFromReferral(ref CorrelationID, r ReferralSource, now time.Time) (*InboundSource, error) {
	var v validation
	if m := checkCorrelationID(ref); m != "" {
		v.add("correlation_id", "%s", m)
	}
	params := MarketingParams{}
	for k, val := range map[string]string{"ctwa_clid": r.CtwaClid, "source_id": r.SourceID, "source_type": r.SourceType} {
		if val == "" {
			continue
		}
		if m := checkText(val); m != "" {
			v.add("referral."+k, "%s", m)
			continue
		}
		params[k] = truncateBytes(val, MaxClickURLBytes)
	}
	clickURL := truncateBytes(r.SourceURL, MaxClickURLBytes)
	if m := checkText(clickURL); m != "" {
		v.add("referral.source_url", "%s", m)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return &InboundSource{correlationID: ref, clickURL: clickURL, parsedParams: params,
		createdAt: now.UTC().Truncate(time.Millisecond)}, nil
}

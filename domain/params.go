package domain

import (
	"bytes"
	"net/url"
	"slices"
	"strings"
)

// clickIDKeys are the ad click identifiers kept in parsed_params, in the
// order the platform contract lists them (which is also their output order).
var clickIDKeys = []string{
	"gclid", "gbraid", "wbraid", "dclid", "gclsrc", "fbclid", "msclkid", "ttclid",
	"li_fat_id", "twclid", "sccid", "epik", "rdt_cid", "qclid", "yclid", "ctwa_clid",
}

// googleClickIDs imply utm_source=google, utm_medium=cpc when those are absent.
var googleClickIDs = []string{"gclid", "gbraid", "wbraid", "dclid"}

// wellKnownUTM fixes the output order of the common utm keys; other utm_*
// keys follow alphabetically.
var wellKnownUTM = []string{"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id"}

// MarketingParams are a click URL's marketing parameters (utm_* and ad click
// identifiers), keys lower-cased. They marshal in a canonical order (common
// utm keys, other utm keys, then click ids in the contract's order) so the
// same set always yields the same bytes, as in the partner document's example.
type MarketingParams map[string]string

// ParseMarketingParams extracts and infers parsed_params from a click URL's
// query exactly as the platform contract says: every utm_* key and the listed
// click ids, lower-cased, first value kept; google/cpc inferred from a Google
// click id and bing/cpc from msclkid when utm_source and utm_medium are absent.
func ParseMarketingParams(u *url.URL) MarketingParams {
	p := MarketingParams{}
	// Walk the raw query pair by pair, in order, so "first value kept"
	// holds across keys that differ only in case (utm_Source then
	// utm_source) and a pair that cannot be decoded is skipped rather than
	// shifting which value counts as first. Like url.ParseQuery, a pair
	// holding a semicolon is not a pair.
	for pair := range strings.SplitSeq(u.RawQuery, "&") {
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		rawKey, rawVal, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			continue
		}
		val, err := url.QueryUnescape(rawVal)
		if err != nil {
			continue
		}
		lk := strings.ToLower(key)
		if !isMarketingKey(lk) {
			continue
		}
		if _, seen := p[lk]; !seen {
			p[lk] = val
		}
	}
	switch {
	case slices.ContainsFunc(googleClickIDs, p.has):
		p.fill("google", "cpc")
	case p.has("msclkid"):
		p.fill("bing", "cpc")
	}
	return p
}

// fill sets utm_source and utm_medium where each is absent.
func (p MarketingParams) fill(source, medium string) {
	if !p.has("utm_source") {
		p["utm_source"] = source
	}
	if !p.has("utm_medium") {
		p["utm_medium"] = medium
	}
}

func (p MarketingParams) has(k string) bool { _, ok := p[k]; return ok }

func isMarketingKey(k string) bool {
	return (strings.HasPrefix(k, "utm_") && len(k) > len("utm_")) || slices.Contains(clickIDKeys, k)
}

// orderedKeys returns the keys in canonical output order.
func (p MarketingParams) orderedKeys() []string {
	keys := make([]string, 0, len(p))
	for _, k := range wellKnownUTM {
		if p.has(k) {
			keys = append(keys, k)
		}
	}
	var rest, other []string
	for k := range p {
		switch {
		case slices.Contains(wellKnownUTM, k), slices.Contains(clickIDKeys, k):
		case strings.HasPrefix(k, "utm_"):
			rest = append(rest, k)
		default:
			other = append(other, k)
		}
	}
	slices.Sort(rest)
	keys = append(keys, rest...)
	for _, k := range clickIDKeys {
		if p.has(k) {
			keys = append(keys, k)
		}
	}
	// Keys from other sources (Click-to-WhatsApp referrals) come last.
	slices.Sort(other)
	return append(keys, other...)
}

// MarshalJSON writes the parameters in canonical order.
func (p MarketingParams) MarshalJSON() ([]byte, error) {
	if p == nil {
		return []byte("{}"), nil
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range p.orderedKeys() {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, err := marshalJSON(k)
		if err != nil {
			return nil, err
		}
		vb, err := marshalJSON(p[k])
		if err != nil {
			return nil, err
		}
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

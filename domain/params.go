package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// Output ranks of the keys: the well-known utm keys first, in their order,
// then the other utm keys, then the click ids in the contract's order, then
// any other keys (from Click-to-WhatsApp referrals). Keys of one rank are
// sorted.
var (
	keyRanks     = rankKeys()
	rankOtherUTM = len(wellKnownUTM)
	rankOther    = len(wellKnownUTM) + 1 + len(clickIDKeys)
)

func rankKeys() map[string]int {
	r := make(map[string]int, len(wellKnownUTM)+len(clickIDKeys))
	for i, k := range wellKnownUTM {
		r[k] = i
	}
	for i, k := range clickIDKeys {
		r[k] = len(wellKnownUTM) + 1 + i
	}
	return r
}

func rankOf(k string) int {
	if r, ok := keyRanks[k]; ok {
		return r
	}
	if strings.HasPrefix(k, "utm_") {
		return rankOtherUTM
	}
	return rankOther
}

// CanonicalKeys appends p's keys to dst in the canonical order the partner
// contract's examples use: the well-known utm keys in their order, the
// other utm keys, the click ids in the contract's order, then any other
// keys (from Click-to-WhatsApp referrals); keys of one rank sorted. Every
// encoding of the parameters (event payloads here, API lists in the HTTP
// adapter) writes them in this order, so the same set always reads alike.
func (p MarketingParams) CanonicalKeys(dst []string) []string {
	type entry struct {
		rank int
		k    string
	}
	var arr [8]entry // parameter sets are small: no allocation then
	entries := arr[:0]
	for k := range p {
		entries = append(entries, entry{rankOf(k), k})
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		return strings.Compare(a.k, b.k)
	})
	for _, e := range entries {
		dst = append(dst, e.k)
	}
	return dst
}

// MarshalJSON writes the parameters as a JSON object in canonical order
// (CanonicalKeys); nil is {}. This one encoding stays in the domain because
// the partner's event envelope is the contract: the widget.click payload is
// fixed in the outbox once and every attempt and redelivery signs those
// bytes, so the same parameters must always give the same bytes. Strings
// are encoded by encoding/json without HTML escaping, as the rest of the
// payload is, so a value's "&" stays "&".
func (p MarketingParams) MarshalJSON() ([]byte, error) {
	var arr [8]string
	keys := p.CanonicalKeys(arr[:0])
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	str := func(s string) error {
		if err := enc.Encode(s); err != nil {
			return fmt.Errorf("encode parsed_params: %w", err)
		}
		buf.Truncate(buf.Len() - 1) // the Encoder's newline
		return nil
	}
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := str(k); err != nil {
			return nil, err
		}
		buf.WriteByte(':')
		if err := str(p[k]); err != nil {
			return nil, err
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

package domain_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aurix/integrations/domain"
)

var journeyRefShape = regexp.MustCompile(`^O-[A-Za-z0-9]{6}$`)

func FuzzExtractReferences(f *testing.F) {
	for _, s := range []string{
		"Hi! I'd like to know more. [ref: O-xY123z]",
		"O-aaaaa1 O-aaaaa1 O-aaaaa2 O-aaaaa3 O-aaaaa4 O-aaaaa5 O-aaaaa6",
		"XO-abc123 O-abc1234 o-abc123 O-O-abc123",
		"参考：O-abc123。\xffO-def456\x00",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		refs := domain.ExtractReferences(text)
		if len(refs) > 5 {
			t.Fatalf("%d references, at most 5: %q", len(refs), refs)
		}
		seen := map[domain.CorrelationID]bool{}
		for _, r := range refs {
			if !journeyRefShape.MatchString(string(r)) {
				t.Fatalf("reference %q does not match %s", r, journeyRefShape)
			}
			if !strings.Contains(text, string(r)) {
				t.Fatalf("reference %q is not in the text", r)
			}
			if seen[r] {
				t.Fatalf("reference %q returned twice: %q", r, refs)
			}
			seen[r] = true
		}
		if want := naiveReferences(text); !slices.Equal(refs, want) {
			t.Fatalf("got %q, a byte-by-byte scan finds %q", refs, want)
		}
	})
}

// naiveReferences is ExtractReferences written out byte by byte: "O-" and
// six ASCII letters or digits, with no ASCII letter or digit right before or
// after, first five distinct in order of appearance.
func naiveReferences(text string) []domain.CorrelationID {
	alnum := func(c byte) bool {
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
	}
	var out []domain.CorrelationID
	for i := 0; i+8 <= len(text) && len(out) < 5; i++ {
		if text[i] != 'O' || text[i+1] != '-' || (i > 0 && alnum(text[i-1])) || (i+8 < len(text) && alnum(text[i+8])) {
			continue
		}
		ok := true
		for j := i + 2; j < i+8; j++ {
			ok = ok && alnum(text[j])
		}
		if ref := domain.CorrelationID(text[i : i+8]); ok && !slices.Contains(out, ref) {
			out = append(out, ref)
		}
	}
	return out
}

func FuzzParseQueryDate(f *testing.F) {
	for _, s := range []string{
		"2024-01-23",
		"2024-01-23T10:30:00Z",
		"2024-01-23T10:30:00+05:30",
		"2024-01-23T10:30:00.123456789-08:00",
		"9999-12-31T23:59:59.999999999Z",
		"0001-01-01T00:00:00Z",
		"yesterday",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := domain.ParseQueryDate(s)
		if err != nil {
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("%q: result in %s, want UTC", s, got.Location())
		}
		if y := got.Year(); y < 1 || y > 9999 {
			t.Fatalf("%q: accepted year %d, want 1..9999", s, y)
		}
		again, err := domain.ParseQueryDate(got.Format(time.RFC3339Nano))
		if err != nil {
			t.Fatalf("%q: re-parsing %q: %v", s, got.Format(time.RFC3339Nano), err)
		}
		if !again.Equal(got) {
			t.Fatalf("%q: re-parsed %s, want %s", s, again, got)
		}
	})
}

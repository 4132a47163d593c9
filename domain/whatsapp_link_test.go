package domain_test

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/domain"
)

func TestWhatsAppLink_For(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		link domain.WhatsAppLink
		ref  domain.CorrelationID
		want string
	}{
		{
			name: "contract example, default prefill",
			link: domain.WhatsAppLink{Number: "+1 555-078-3881"},
			ref:  "O-xY123z",
			want: "https://wa.me/15550783881?text=Hi%21%20I%27d%20like%20to%20know%20more.%20%5Bref%3A%20O-xY123z%5D",
		},
		{
			name: "explicit default prefill gives the same link",
			link: domain.WhatsAppLink{Number: "15550783881", Prefill: domain.DefaultPrefill},
			ref:  "O-xY123z",
			want: "https://wa.me/15550783881?text=Hi%21%20I%27d%20like%20to%20know%20more.%20%5Bref%3A%20O-xY123z%5D",
		},
		{
			name: "custom prefill, non-ASCII, every {ref} replaced, punctuation in number dropped",
			link: domain.WhatsAppLink{Number: "+44 (20) 7946-0958", Prefill: "Olá — ref {ref} / {ref}?&+"},
			ref:  "O-AbC999",
			want: "https://wa.me/442079460958?text=Ol%C3%A1%20%E2%80%94%20ref%20O-AbC999%20%2F%20O-AbC999%3F%26%2B",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.link.For(tt.ref)
			assert.Equal(t, tt.want, got)
			u, err := url.Parse(got)
			require.NoError(t, err)
			assert.NotContains(t, u.RawQuery, "+", "spaces are %20, never +")
		})
	}
}

// TestWhatsAppLink_ForRoundTrips checks WhatsApp gets back exactly the text
// with the reference in it.
func TestWhatsAppLink_ForRoundTrips(t *testing.T) {
	t.Parallel()
	got := domain.WhatsAppLink{Number: "+1 555-078-3881"}.For("O-xY123z")
	u, err := url.Parse(got)
	require.NoError(t, err)
	assert.Equal(t, "wa.me", u.Host)
	assert.Equal(t, "/15550783881", u.Path)
	assert.Equal(t, "Hi! I'd like to know more. [ref: O-xY123z]", u.Query().Get("text"))
	assert.Equal(t, []domain.CorrelationID{"O-xY123z"}, domain.ExtractReferences(u.Query().Get("text")))
}

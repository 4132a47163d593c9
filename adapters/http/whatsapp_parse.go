package http

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// Meta's WhatsApp Cloud API notification, only the parts Aurix reads.
type metaNotification struct {
	Object string `json:"object"`
	Entry  []struct {
		Changes []struct {
			Field string    `json:"field"`
			Value metaValue `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

type metaValue struct {
	Metadata struct {
		PhoneNumberID string `json:"phone_number_id"`
	} `json:"metadata"`
	Contacts []struct {
		WaID   string `json:"wa_id"`
		UserID string `json:"user_id"`
	} `json:"contacts"`
	Messages []metaMessage `json:"messages"`
}

type metaCaption struct {
	Caption string `json:"caption"`
}

type metaMessage struct {
	From       string                 `json:"from"`
	FromUserID string                 `json:"from_user_id"`
	ID         string                 `json:"id"`
	Type       string                 `json:"type"`
	Text       *struct{ Body string } `json:"text"`
	Image      *metaCaption           `json:"image"`
	Video      *metaCaption           `json:"video"`
	Document   *metaCaption           `json:"document"`
	Button     *struct{ Text string } `json:"button"`
	Referral   *struct {
		SourceURL  string `json:"source_url"`
		SourceID   string `json:"source_id"`
		SourceType string `json:"source_type"`
		CtwaClid   string `json:"ctwa_clid"`
	} `json:"referral"`
}

var (
	phoneDigits = regexp.MustCompile(`^[0-9]{6,15}$`)
	bsuidShape  = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	idShape     = regexp.MustCompile(`^[\x21-\x7e]{1,256}$`)
)

// maxMessageText bounds the text searched for a reference.
const maxMessageText = 4096

// ParseWhatsAppNotification extracts the inbound messages of a Meta
// notification: every entry, change and message, from field "messages" only.
// Statuses and other fields are ignored, and so is a message whose sender or
// ids cannot be read (Meta would only redeliver it). Only a body that is not
// JSON at all is an error.
func ParseWhatsAppNotification(body []byte) ([]ports.InboundMessage, error) {
	var n metaNotification
	if err := json.Unmarshal(body, &n); err != nil {
		// A field of an unexpected type is skipped and the rest decoded:
		// one odd field must not lose the batch (Meta would redeliver it
		// forever). Only a body that is not JSON at all is refused.
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return nil, &decodeError{msg: "notification is not valid JSON"}
		}
	}
	var out []ports.InboundMessage
	for _, e := range n.Entry {
		for _, c := range e.Changes {
			if c.Field != "messages" {
				continue
			}
			channel := c.Value.Metadata.PhoneNumberID
			if !idShape.MatchString(channel) {
				continue
			}
			for _, m := range c.Value.Messages {
				if msg, ok := inboundMessage(channel, c.Value, m); ok {
					out = append(out, msg)
				}
			}
		}
	}
	return out, nil
}

func inboundMessage(channel string, v metaValue, m metaMessage) (ports.InboundMessage, bool) {
	if !idShape.MatchString(m.ID) {
		return ports.InboundMessage{}, false
	}
	waID, bsuid := m.From, m.FromUserID
	// The contact that sent the message: the one whose wa_id is the sender,
	// or the only one when the number is hidden.
	for _, ct := range v.Contacts {
		// The lone contact stands for a sender only when the message does
		// not name its sender's number itself.
		if (waID != "" && ct.WaID == waID) || (m.From == "" && len(v.Contacts) == 1) {
			if waID == "" {
				waID = ct.WaID
			}
			if bsuid == "" {
				bsuid = ct.UserID
			}
			break
		}
	}
	var sender domain.Sender
	if digits := strings.TrimPrefix(waID, "+"); phoneDigits.MatchString(digits) {
		sender.Phone = "+" + digits
	}
	if bsuidShape.MatchString(bsuid) {
		sender.BSUID = bsuid
	}
	if sender.Phone == "" && sender.BSUID == "" {
		return ports.InboundMessage{}, false
	}
	msg := ports.InboundMessage{MessageID: m.ID, ChannelID: channel, Sender: sender, Text: messageText(m)}
	if r := m.Referral; r != nil {
		// Values are passed on as sent: the domain decides which of them
		// can be kept (a NUL byte drops that field, not the message).
		ref := domain.ReferralSource{SourceURL: r.SourceURL, SourceID: r.SourceID, SourceType: r.SourceType, CtwaClid: r.CtwaClid}
		if ref.Identifies() {
			msg.Referral = &ref
		}
	}
	return msg, true
}

func messageText(m metaMessage) string {
	var t string
	switch {
	case m.Text != nil:
		t = m.Text.Body
	case m.Image != nil:
		t = m.Image.Caption
	case m.Video != nil:
		t = m.Video.Caption
	case m.Document != nil:
		t = m.Document.Caption
	case m.Button != nil:
		t = m.Button.Text
	}
	if len(t) > maxMessageText {
		t = t[:maxMessageText]
	}
	return t
}

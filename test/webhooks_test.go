package test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/http/openapi"
)

var (
	webhookDocOnce sync.Once
	webhookDoc     *openapi3.T
	webhookDocErr  error
)

// checkWebhookBody validates a delivered body against the schema of its
// event type in the OpenAPI description's webhooks catalogue. Every receiver
// of the end-to-end tests runs it on everything it is sent.
func checkWebhookBody(eventType string, body []byte) error {
	webhookDocOnce.Do(func() { webhookDoc, webhookDocErr = openapi.Load() })
	if webhookDocErr != nil {
		return webhookDocErr
	}
	item := webhookDoc.Webhooks[eventType]
	if item == nil || item.Post == nil || item.Post.RequestBody == nil {
		return fmt.Errorf("event type %q is not in the webhooks catalogue", eventType)
	}
	media := item.Post.RequestBody.Value.Content.Get("application/json")
	if media == nil || media.Schema == nil {
		return fmt.Errorf("webhook %q has no JSON schema", eventType)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("%s body is not JSON: %w", eventType, err)
	}
	if err := media.Schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("%s body does not match its schema: %s", eventType, firstLine(err))
	}
	return nil
}

// webhookChecker collects the schema violations a receiver saw and reports
// them when the test ends.
type webhookChecker struct {
	mu   sync.Mutex
	errs []string
}

func newWebhookChecker(t *testing.T) *webhookChecker {
	t.Helper()
	c := &webhookChecker{}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, e := range c.errs {
			t.Errorf("delivered webhook: %s", e)
		}
	})
	return c
}

func (c *webhookChecker) check(eventType string, body []byte) {
	if err := checkWebhookBody(eventType, body); err != nil {
		c.mu.Lock()
		c.errs = append(c.errs, err.Error())
		c.mu.Unlock()
	}
}

// TestWebhookSchemasRefuseWrongBodies: the check the receivers run can fail.
func TestWebhookSchemasRefuseWrongBodies(t *testing.T) {
	t.Parallel()
	good := `{"event_type":"lead.correlated","event_id":"01a218f7-a24f-7136-add8-fa3d125f9027","timestamp":"2024-01-23T10:30:00.123Z",` +
		`"data":{"correlation_id":"O-xY123z","conversation_id":105,"phone_number":"+1234567890","lead_status":"correlated","channel_id":"791163770738681"}}`
	require.NoError(t, checkWebhookBody("lead.correlated", []byte(good)))
	for name, bad := range map[string]string{
		"missing field":  `{"event_type":"lead.correlated","event_id":"01a218f7-a24f-7136-add8-fa3d125f9027","timestamp":"2024-01-23T10:30:00.123Z","data":{"correlation_id":"O-xY123z"}}`,
		"wrong type":     `{"event_type":"lead.correlated","event_id":"x","timestamp":"2024-01-23T10:30:00.123Z","data":{"correlation_id":"O-xY123z","conversation_id":"105","phone_number":null,"lead_status":"correlated","channel_id":"1"}}`,
		"wrong constant": `{"event_type":"lead.complete","event_id":"x","timestamp":"2024-01-23T10:30:00.123Z","data":{"correlation_id":"O-xY123z","conversation_id":105,"phone_number":null,"lead_status":"correlated","channel_id":"1"}}`,
	} {
		assert.Error(t, checkWebhookBody("lead.correlated", []byte(bad)), name)
	}
	assert.Error(t, checkWebhookBody("lead.lost", []byte(good)), "an event type outside the catalogue")
}

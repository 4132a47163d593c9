package application

import (
	"context"
	"errors"
	"fmt"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// MaxPageSize is the largest limit a partner may ask for.
const MaxPageSize = 10000

// errPageFull stops a scan once the page is full and one more row was seen.
var errPageFull = errors.New("page full")

// Partner serves the Leads and Attribution APIs.
type Partner struct {
	Reader ports.PartnerReader
}

var _ ports.PartnerQueries = (*Partner)(nil)

// checkPage holds the rules of every listing's query, in one place for
// every caller: a page, when asked for, holds 1 to MaxPageSize records, and
// a date window ends after it starts.
func checkPage(q ports.PageQuery) error {
	var fields []domain.FieldError
	if (q.Paged || q.Limit != 0) && (q.Limit < 1 || q.Limit > MaxPageSize) {
		fields = append(fields, domain.FieldError{Field: "limit", Message: fmt.Sprintf("must be a whole number from 1 to %d", MaxPageSize)})
	}
	if q.From != nil && q.To != nil && !q.From.Before(*q.To) {
		fields = append(fields, domain.FieldError{Field: "to_date", Message: "must be after from_date"})
	}
	if len(fields) > 0 {
		return &domain.ValidationError{Fields: fields}
	}
	return nil
}

// page runs a scan for one page of a checked query (or everything when
// q.Limit is 0). It reads one row beyond the page to know whether another
// page follows.
func page[R any](q ports.PageQuery, scan func(limit int, yield func(R, ports.PageKey) error) error, emit func(R) error) (*ports.PageKey, error) {
	limit := 0
	if q.Limit > 0 {
		limit = q.Limit + 1
	}
	var (
		n    int
		last ports.PageKey
		more bool
	)
	err := scan(limit, func(r R, key ports.PageKey) error {
		if q.Limit > 0 && n == q.Limit {
			more = true
			return errPageFull
		}
		n++
		last = key
		return emit(r)
	})
	if err != nil && !errors.Is(err, errPageFull) {
		return nil, err
	}
	if !more {
		return nil, nil
	}
	return &last, nil
}

// ListLeads emits leads oldest first.
func (p *Partner) ListLeads(ctx context.Context, q ports.PageQuery, emit func(ports.LeadRecord) error) (*ports.PageKey, error) {
	if err := checkPage(q); err != nil {
		return nil, err
	}
	return page(q, func(limit int, yield func(ports.LeadRecord, ports.PageKey) error) error {
		return p.Reader.Leads(ctx, q, limit, yield)
	}, emit)
}

// ListAttribution emits clicks oldest first, bots only when asked.
func (p *Partner) ListAttribution(ctx context.Context, q ports.PageQuery, emit func(ports.AttributionRecord) error) (*ports.PageKey, error) {
	if err := checkPage(q); err != nil {
		return nil, err
	}
	return page(q, func(limit int, yield func(ports.AttributionRecord, ports.PageKey) error) error {
		return p.Reader.Attribution(ctx, q, limit, yield)
	}, emit)
}

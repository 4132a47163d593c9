package application_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/application"
	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// pagingReader is an in-memory ports.PartnerReader over rows already in
// (created_at, id) order. It honours q.After and the row limit, and notes
// the limits it was asked for.
type pagingReader struct {
	keys   []ports.PageKey
	err    error // returned after the rows, if set
	limits []int
}

func newPagingReader(n int) *pagingReader {
	r := &pagingReader{}
	base := time.Date(2024, 1, 23, 10, 0, 0, 0, time.UTC)
	for i := range n {
		r.keys = append(r.keys, ports.PageKey{CreatedAt: base.Add(time.Duration(i) * time.Minute), ID: int64(i + 1)})
	}
	return r
}

func (r *pagingReader) scan(q ports.PageQuery, limit int, yield func(int, ports.PageKey) error) error {
	r.limits = append(r.limits, limit)
	n := 0
	for i, k := range r.keys {
		if q.After != nil && k.ID <= q.After.ID {
			continue
		}
		if limit > 0 && n == limit {
			break
		}
		n++
		if err := yield(i, k); err != nil {
			return err
		}
	}
	return r.err
}

func (r *pagingReader) Leads(_ context.Context, q ports.PageQuery, limit int, yield func(ports.LeadRecord, ports.PageKey) error) error {
	return r.scan(q, limit, func(i int, k ports.PageKey) error {
		return yield(ports.LeadRecord{ConversationID: k.ID, CreatedAt: k.CreatedAt}, k)
	})
}

func (r *pagingReader) Attribution(_ context.Context, q ports.PageQuery, limit int, yield func(ports.AttributionRecord, ports.PageKey) error) error {
	return r.scan(q, limit, func(i int, k ports.PageKey) error {
		return yield(ports.AttributionRecord{ID: k.ID, CreatedAt: k.CreatedAt}, k)
	})
}

// listLeadIDs runs ListLeads and returns the conversation ids emitted.
func listLeadIDs(t *testing.T, p *application.Partner, q ports.PageQuery) ([]int64, *ports.PageKey, error) {
	t.Helper()
	var ids []int64
	next, err := p.ListLeads(context.Background(), q, func(r ports.LeadRecord) error {
		ids = append(ids, r.ConversationID)
		return nil
	})
	return ids, next, err
}

func TestPartnerListLeads_Paging(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		limit     int
		after     int64 // resume after this row's id, 0 for the first page
		wantIDs   []int64
		wantNext  int64 // id of the next key, 0 for nil
		wantLimit int   // limit asked of the reader
	}{
		{"first page of two", 2, 0, []int64{1, 2}, 2, 3},
		{"second page of two", 2, 2, []int64{3, 4}, 4, 3},
		{"last, short page", 2, 4, []int64{5}, 0, 3},
		{"page exactly fills the rest", 5, 0, []int64{1, 2, 3, 4, 5}, 0, 6},
		{"page one short of the rest", 4, 0, []int64{1, 2, 3, 4}, 4, 5},
		{"page larger than the rest", 10000, 0, []int64{1, 2, 3, 4, 5}, 0, 10001},
		{"limit 1", 1, 0, []int64{1}, 1, 2},
		{"no limit returns everything", 0, 0, []int64{1, 2, 3, 4, 5}, 0, 0},
		{"no limit after a cursor", 0, 3, []int64{4, 5}, 0, 0},
		{"nothing after the last row", 2, 5, nil, 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reader := newPagingReader(5)
			q := ports.PageQuery{Limit: tt.limit}
			if tt.after > 0 {
				q.After = &reader.keys[tt.after-1]
			}

			ids, next, err := listLeadIDs(t, &application.Partner{Reader: reader}, q)
			require.NoError(t, err)
			assert.Equal(t, tt.wantIDs, ids)
			if tt.wantNext == 0 {
				assert.Nil(t, next)
			} else {
				require.NotNil(t, next)
				assert.Equal(t, reader.keys[tt.wantNext-1], *next)
			}
			assert.Equal(t, []int{tt.wantLimit}, reader.limits)
		})
	}
}

func TestPartnerListLeads_WalkAllPages(t *testing.T) {
	t.Parallel()

	reader := newPagingReader(5)
	p := &application.Partner{Reader: reader}
	var (
		all   []int64
		pages int
		q     = ports.PageQuery{Limit: 2}
	)
	for {
		ids, next, err := listLeadIDs(t, p, q)
		require.NoError(t, err)
		all = append(all, ids...)
		pages++
		require.LessOrEqual(t, pages, 5, "paging does not end")
		if next == nil {
			break
		}
		q.After = next
	}
	assert.Equal(t, []int64{1, 2, 3, 4, 5}, all)
	assert.Equal(t, 3, pages)
}

func TestPartnerListAttribution_Paging(t *testing.T) {
	t.Parallel()

	reader := newPagingReader(5)
	var ids []int64
	next, err := (&application.Partner{Reader: reader}).ListAttribution(context.Background(), ports.PageQuery{Limit: 2},
		func(r ports.AttributionRecord) error {
			ids = append(ids, r.ID)
			return nil
		})
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 2}, ids)
	require.NotNil(t, next)
	assert.Equal(t, reader.keys[1], *next)
}

func TestPartnerListLeads_InvalidQuery(t *testing.T) {
	t.Parallel()

	day := time.Date(2024, 1, 23, 0, 0, 0, 0, time.UTC)
	later := day.Add(time.Nanosecond)
	tests := []struct {
		name   string
		q      ports.PageQuery
		fields []string
	}{
		{"limit 10001", ports.PageQuery{Limit: 10001}, []string{"limit"}},
		{"negative limit", ports.PageQuery{Limit: -1}, []string{"limit"}},
		{"limit 0 asked for", ports.PageQuery{Paged: true}, []string{"limit"}},
		{"from equals to", ports.PageQuery{From: &day, To: &day}, []string{"to_date"}},
		{"from after to", ports.PageQuery{From: &later, To: &day}, []string{"to_date"}},
		{"both", ports.PageQuery{Limit: 10001, From: &later, To: &day}, []string{"limit", "to_date"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reader := newPagingReader(5)
			ids, next, err := listLeadIDs(t, &application.Partner{Reader: reader}, tt.q)
			require.Error(t, err)
			assert.True(t, errors.Is(err, domain.ErrInvalidInput))
			var ve *domain.ValidationError
			require.True(t, errors.As(err, &ve))
			names := make([]string, len(ve.Fields))
			for i, f := range ve.Fields {
				names[i] = f.Field
			}
			assert.Equal(t, tt.fields, names)
			assert.Nil(t, ids)
			assert.Nil(t, next)
			assert.Empty(t, reader.limits, "storage is not read")
		})
	}

	t.Run("from just before to is fine", func(t *testing.T) {
		t.Parallel()
		ids, _, err := listLeadIDs(t, &application.Partner{Reader: newPagingReader(1)}, ports.PageQuery{From: &day, To: &later})
		require.NoError(t, err)
		assert.Equal(t, []int64{1}, ids)
	})
}

func TestPartnerListLeads_EmitError(t *testing.T) {
	t.Parallel()

	for _, limit := range []int{0, 2, 3} {
		reader := newPagingReader(5)
		errGone := errors.New("client went away")
		var ids []int64
		next, err := (&application.Partner{Reader: reader}).ListLeads(context.Background(), ports.PageQuery{Limit: limit},
			func(r ports.LeadRecord) error {
				ids = append(ids, r.ConversationID)
				if len(ids) == 2 {
					return errGone
				}
				return nil
			})
		require.Error(t, err, "limit %d", limit)
		assert.True(t, errors.Is(err, errGone), "limit %d: %v", limit, err)
		assert.Nil(t, next, "limit %d", limit)
		assert.Equal(t, []int64{1, 2}, ids, "limit %d: the scan stops at the error", limit)
	}
}

func TestPartnerListLeads_ReaderError(t *testing.T) {
	t.Parallel()

	reader := newPagingReader(1)
	reader.err = errors.New("connection reset")
	ids, next, err := listLeadIDs(t, &application.Partner{Reader: reader}, ports.PageQuery{Limit: 2})
	require.Error(t, err)
	assert.True(t, errors.Is(err, reader.err))
	assert.Nil(t, next)
	assert.Equal(t, []int64{1}, ids)
}

// TestListDeliveries_QueryCheckedFirst: the delivery log refuses a bad
// page before it looks for the service's config, as the other listings do,
// so a bad limit is a 400 whether or not the service has a config.
func TestListDeliveries_QueryCheckedFirst(t *testing.T) {
	t.Parallel()
	log := &application.DeliveryLog{} // no unit of work: it must not be reached
	_, err := log.ListDeliveries(context.Background(), "topkee", ports.DeliveryLogQuery{Page: ports.PageQuery{Paged: true, Limit: 10001}},
		func(ports.DeliveryRecord) error { return nil })
	var ve *domain.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "limit", ve.Fields[0].Field)
}

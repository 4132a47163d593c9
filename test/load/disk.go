package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// diskResult is what the disk under PostgreSQL did when asked to make a
// write durable, as a commit does: fdatasync of one 8 KiB write, again and
// again, with nothing else of this run going on. Every click waits for one
// such flush (shared with the clicks committing with it), so its tail is a
// floor under the click's.
type diskResult struct {
	Path     string  `json:"path"`
	Seconds  float64 `json:"seconds"`
	Syncs    int     `json:"syncs"`
	P50MS    float64 `json:"p50_ms"`
	P99MS    float64 `json:"p99_ms"`
	P999MS   float64 `json:"p999_ms"`
	MaxMS    float64 `json:"max_ms"`
	Over20ms int     `json:"over_20ms"`
	// StalledS is the time spent in flushes over 20 ms: a click that
	// arrived then waited at least that long.
	StalledS float64 `json:"stalled_s"`
}

// probeDisk times fdatasync for d on a file next to PostgreSQL's data
// directory when the harness may write there (the same disk as the WAL,
// unless pg_wal is elsewhere), else in the temporary directory.
func (h *harness) probeDisk(ctx context.Context, d time.Duration) (*diskResult, error) {
	dir := os.TempDir()
	var dataDir string
	if err := h.cl.admin.QueryRow(ctx, "SHOW data_directory").Scan(&dataDir); err == nil {
		if f, err := os.CreateTemp(filepath.Dir(dataDir), "aurix-disk-probe-*"); err == nil {
			dir = filepath.Dir(dataDir)
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}
	f, err := os.CreateTemp(dir, "aurix-disk-probe-*")
	if err != nil {
		return nil, fmt.Errorf("disk probe: %w", err)
	}
	defer func() { _ = f.Close(); _ = os.Remove(f.Name()) }()
	buf := make([]byte, 8192)
	var lat []time.Duration
	start := time.Now()
	for off := int64(0); time.Since(start) < d && ctx.Err() == nil; off = (off + 8192) % (16 << 20) {
		if _, err := f.WriteAt(buf, off); err != nil {
			return nil, fmt.Errorf("disk probe: %w", err)
		}
		t := time.Now()
		if err := fdatasync(f); err != nil {
			return nil, fmt.Errorf("disk probe: %w", err)
		}
		lat = append(lat, time.Since(t))
	}
	if len(lat) == 0 {
		return nil, fmt.Errorf("disk probe: no flush made")
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return ms(lat[int(float64(len(lat)-1)*p)]) }
	r := &diskResult{Path: dir, Seconds: time.Since(start).Seconds(), Syncs: len(lat), P50MS: q(0.5), P99MS: q(0.99),
		P999MS: q(0.999), MaxMS: ms(lat[len(lat)-1])}
	for _, l := range lat {
		if l > 20*time.Millisecond {
			r.Over20ms++
			r.StalledS += l.Seconds()
		}
	}
	return r, nil
}

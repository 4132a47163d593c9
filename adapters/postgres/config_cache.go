package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/aurix/integrations/domain"
)

// ConfigChannel is the PostgreSQL channel on which processes hear that a
// webhook config changed.
const ConfigChannel = "aurix_configs"

// ConfigCache keeps the active webhook configs in memory for the
// transactions that open deliveries (every click would otherwise read them
// again). A change committed by this process is seen at once; one committed
// by another process is seen when its NOTIFY arrives (Listen calls
// Invalidate), and in any case within maxAge.
type ConfigCache struct {
	maxAge time.Duration

	mu       sync.Mutex
	configs  []*domain.WebhookConfig
	loadedAt time.Time
	// generation counts invalidations, so that a load that raced one is
	// not kept.
	generation uint64
}

// NewConfigCache returns a cache whose entries live at most maxAge.
func NewConfigCache(maxAge time.Duration) *ConfigCache { return &ConfigCache{maxAge: maxAge} }

// Invalidate drops what the cache holds.
func (c *ConfigCache) Invalidate() {
	c.mu.Lock()
	c.configs, c.generation = nil, c.generation+1
	c.mu.Unlock()
}

// active returns the active configs, loading them through db when the cache
// holds none or they are older than maxAge. The configs are shared: callers
// only read them.
func (c *ConfigCache) active(ctx context.Context, db func(context.Context) (bun.IDB, error)) ([]*domain.WebhookConfig, error) {
	c.mu.Lock()
	if c.configs != nil && time.Since(c.loadedAt) < c.maxAge {
		cfgs := c.configs
		c.mu.Unlock()
		return cfgs, nil
	}
	gen := c.generation
	c.mu.Unlock()
	idb, err := db(ctx)
	if err != nil {
		return nil, err
	}
	cfgs, err := loadActive(ctx, idb)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.generation == gen {
		c.configs, c.loadedAt = cfgs, time.Now()
	}
	c.mu.Unlock()
	return cfgs, nil
}

func loadActive(ctx context.Context, db bun.IDB) ([]*domain.WebhookConfig, error) {
	var ms []webhookConfigModel
	if err := db.NewSelect().Model(&ms).Where("is_active").Order("service_name").Scan(ctx); err != nil {
		return nil, classify(err, "select active webhook configs")
	}
	out := configsOf(ms)
	if out == nil {
		out = []*domain.WebhookConfig{}
	}
	return out, nil
}

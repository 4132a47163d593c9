package application

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// WebhookConfigs registers and shows partners' webhook endpoints.
type WebhookConfigs struct {
	UoW      ports.UnitOfWork
	Clock    ports.Clock
	IDs      ports.IDGenerator
	Random   ports.Random
	Resolver ports.HostResolver
	Policy   domain.TargetPolicy
	// AllowPrivateTargets skips the check that the target resolves to
	// public addresses only (development and tests).
	AllowPrivateTargets bool
}

var _ ports.WebhookConfigManager = (*WebhookConfigs)(nil)

// PutWebhookConfig creates the service's config with a new secret, or points
// the existing one at a new URL keeping its secret.
func (w *WebhookConfigs) PutWebhookConfig(ctx context.Context, cmd ports.PutWebhookConfigCommand) (ports.WebhookConfigView, error) {
	u, err := domain.ValidateTargetURL(cmd.URL, w.Policy)
	if err != nil {
		return ports.WebhookConfigView{}, err
	}
	settings, err := domain.NewDeliverySettings(cmd.EventTypes, cmd.Ordering, cmd.MaxPerSecond)
	if err != nil {
		return ports.WebhookConfigView{}, err
	}
	if !w.AllowPrivateTargets {
		if err := w.checkPublic(ctx, u.Hostname()); err != nil {
			return ports.WebhookConfigView{}, err
		}
	}
	var view ports.WebhookConfigView
	put := func(ctx context.Context, tx ports.Tx) error {
		repo := tx.WebhookConfigs()
		cfg, err := repo.ByServiceForUpdate(ctx, cmd.Service)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			secret, err := newSecret(w.Random)
			if err != nil {
				return err
			}
			active := cmd.IsActive == nil || *cmd.IsActive
			cfg = domain.NewWebhookConfig(w.IDs.NewID(), cmd.Service, cmd.URL, settings, active, secret, w.Clock.Now())
		case err != nil:
			return err
		default:
			cfg.Update(cmd.URL, settings, cmd.IsActive, w.Clock.Now())
		}
		if err := repo.Save(ctx, cfg); err != nil {
			return err
		}
		view = viewOf(cfg)
		return nil
	}
	// Two first PUTs may race: the unit of work runs the loser again, and
	// it then finds the winner's row and updates it, keeping its secret.
	if err := w.UoW.Do(ctx, put); err != nil {
		return ports.WebhookConfigView{}, fmt.Errorf("put webhook config for %s: %w", cmd.Service, err)
	}
	return view, nil
}

// GetWebhookConfig returns the service's config or domain.ErrNotFound.
func (w *WebhookConfigs) GetWebhookConfig(ctx context.Context, service string) (ports.WebhookConfigView, error) {
	var view ports.WebhookConfigView
	err := w.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		cfg, err := tx.WebhookConfigs().ByService(ctx, service)
		if err != nil {
			return err
		}
		view = viewOf(cfg)
		return nil
	})
	if err != nil {
		return ports.WebhookConfigView{}, fmt.Errorf("get webhook config for %s: %w", service, err)
	}
	return view, nil
}

// checkPublic refuses a host that is, or resolves to, a non-public address.
func (w *WebhookConfigs) checkPublic(ctx context.Context, host string) error {
	addrs := []netip.Addr{}
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = append(addrs, a)
	} else {
		found, err := w.Resolver.LookupNetIP(ctx, host)
		if err != nil || len(found) == 0 {
			return &domain.ValidationError{Fields: []domain.FieldError{{Field: "url", Message: "host does not resolve"}}}
		}
		addrs = found
	}
	for _, a := range addrs {
		if !domain.IsPublicUnicast(a) {
			return &domain.ValidationError{Fields: []domain.FieldError{{Field: "url", Message: "must not point at a loopback, private, link-local or otherwise non-public address"}}}
		}
	}
	return nil
}

func viewOf(c *domain.WebhookConfig) ports.WebhookConfigView {
	v := ports.WebhookConfigView{ID: c.ID(), ServiceName: c.Service(), TargetURL: c.TargetURL(), Secret: c.Secret(),
		IsActive: c.IsActive(), Settings: c.Settings(), DisabledReason: c.DisabledReason()}
	if t := c.DisabledAt(); !t.IsZero() {
		v.DisabledAt = &t
	}
	return v
}

// newSecret mints a webhook secret from the random source.
func newSecret(r ports.Random) (domain.Secret, error) {
	b, err := r.Secret()
	if err != nil {
		return domain.Secret{}, fmt.Errorf("generate webhook secret: %w", err)
	}
	return domain.SecretFrom(b), nil
}

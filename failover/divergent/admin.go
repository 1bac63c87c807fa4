package divergent

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// retryReplays replays again the pending archives whose last replay was
// interrupted (no writable primary, or it failed as a whole). Archives
// never replayed (archived while the mode was archive) and units that
// failed on their own are left to the operator.
func (k *Keeper) retryReplays(ctx context.Context) {
	to, ok := k.deps.Primary()
	if !ok || to == "" {
		return
	}
	ms, err := k.store.list()
	if err != nil {
		k.logger.Error("list divergent archives", "err", err)
		return
	}
	for _, m := range ms {
		if m.State != StatePending || m.File == "" || m.Replay == nil || !m.Replay.Interrupted || ctx.Err() != nil {
			continue
		}
		if _, err := k.Replay(ctx, m.Name, to, false); err != nil {
			k.logger.Warn("divergent writes replay failed again", "archive", m.Name, "redis_addr", to, "err", err)
		}
	}
}

// List returns every archive's manifest, oldest epoch first.
func (k *Keeper) List() ([]Manifest, error) { return k.store.list() }

// Get returns one archive's manifest.
func (k *Keeper) Get(name string) (Manifest, error) { return k.store.manifest(name) }

// File returns one archive's RESP file.
func (k *Keeper) File(name string) ([]byte, error) {
	m, err := k.store.manifest(name)
	if err != nil {
		return nil, err
	}
	return k.store.file(m)
}

// ErrAlreadyReplayed refuses a second replay unless forced.
var ErrAlreadyReplayed = errors.New("divergent: archive was replayed already (force to replay again; units whose marker still exists are skipped)")

// ErrNothingToReplay means the archive records a loss and holds nothing.
var ErrNothingToReplay = errors.New("divergent: archive holds no writes (the backlog no longer reached the fork)")

// Replay applies an archive to the primary at to (empty: Deps.Primary),
// each unit at most once, and returns the updated manifest. An archive
// already replayed is refused unless force is set.
func (k *Keeper) Replay(ctx context.Context, name, to string, force bool) (Manifest, error) {
	m, err := k.store.manifest(name)
	if err != nil {
		return m, err
	}
	if m.File == "" {
		return m, ErrNothingToReplay
	}
	if m.State == StateReplayed && !force {
		return m, ErrAlreadyReplayed
	}
	file, err := k.store.file(m)
	if err != nil {
		return m, err
	}
	if to == "" {
		to, _ = k.deps.Primary()
	}
	m, rr, err := k.replay(ctx, m, file, to)
	if err != nil {
		return m, err
	}
	if !rr.Complete() {
		return m, fmt.Errorf("divergent: replay of %s: %d of %d units failed", name, rr.Failed, rr.Units)
	}
	k.logger.Info("divergent writes replayed", "archive", name, "redis_addr", to, "applied", rr.Applied,
		"duplicates", rr.Duplicates, "duration", rr.Duration)
	return m, nil
}

// Dismiss marks an archive as dealt with without replaying it; its files
// stay.
func (k *Keeper) Dismiss(name string) (Manifest, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	m, err := k.store.manifest(name)
	if err != nil {
		return m, err
	}
	m.State, m.UpdatedAt = StateDismissed, time.Now().UTC()
	if err := k.store.putManifest(m); err != nil {
		return m, err
	}
	_, err = k.refresh()
	return m, err
}

// Remove deletes an archive's files.
func (k *Keeper) Remove(name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.store.remove(name); err != nil {
		return err
	}
	_, err := k.refresh()
	return err
}

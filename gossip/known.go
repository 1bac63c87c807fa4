package gossip

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// knownFileName is the file in node.data_dir that remembers every peer this
// node has seen, so a restarted node still counts peers that are down now
// toward the majority.
const knownFileName = "gossip-peers.json"

// knownFileVersion guards the file format.
const knownFileVersion = 1

// knownFile is the on-disk form of the known set.
type knownFile struct {
	Version int `json:"version"`
	// Incarnation is the last incarnation this node used; the next run uses
	// a larger one even if the clock stepped back, so peers never mistake
	// its new messages for replays.
	Incarnation uint64 `json:"incarnation"`
	// Peers maps node name to the last gossip address it was seen at, which
	// the rejoin loop dials after a restart or partition.
	Peers map[string]knownPeer `json:"peers"`
}

// knownPeer is what is remembered about one peer.
type knownPeer struct {
	Addr string `json:"addr,omitempty"`
}

// readKnown reads the known set from dir. A missing file is an empty set.
func readKnown(dir string) (knownFile, error) {
	path := filepath.Join(dir, knownFileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return knownFile{Version: knownFileVersion, Peers: map[string]knownPeer{}}, nil
	}
	if err != nil {
		return knownFile{}, fmt.Errorf("read known peers: %w", err)
	}
	var kf knownFile
	if err := json.Unmarshal(b, &kf); err != nil {
		return knownFile{}, fmt.Errorf("parse known peers %s: %w", path, err)
	}
	if kf.Version != knownFileVersion {
		return knownFile{}, fmt.Errorf("parse known peers %s: unsupported version %d", path, kf.Version)
	}
	if kf.Peers == nil {
		kf.Peers = map[string]knownPeer{}
	}
	return kf, nil
}

// writeKnown replaces the known set in dir atomically: a crash leaves either
// the old or the new file, never a torn one.
func writeKnown(dir string, kf knownFile) error {
	kf.Version = knownFileVersion
	b, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return fmt.Errorf("encode known peers: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, knownFileName), append(b, '\n')); err != nil {
		return fmt.Errorf("write known peers: %w", err)
	}
	return nil
}

// writeFileAtomic writes b to a temporary file next to path, syncs it and
// renames it over path, then syncs the directory so the rename survives a
// power loss.
func writeFileAtomic(path string, b []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(b); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

package divergent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// ErrNotFound means no archive has the name.
var ErrNotFound = errors.New("divergent: archive not found")

// nameRE is what archive names look like; anything else is refused before
// it reaches the file system.
var nameRE = regexp.MustCompile(`^[0-9]+-[A-Za-z0-9._-]+$`)

// archiveName is "<epoch>-<node>", with the node's name reduced to
// characters that are safe in a file name.
func archiveName(epoch uint64, node string) string {
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, node)
	if safe == "" || strings.Trim(safe, ".") == "" {
		safe = "_"
	}
	return strconv.FormatUint(epoch, 10) + "-" + safe
}

// store keeps archives in one directory: <name>.resp and <name>.json. The
// manifest is written last, so an archive exists once its manifest does.
type store struct{ dir string }

func (s store) path(name, ext string) (string, error) {
	if !nameRE.MatchString(name) {
		return "", fmt.Errorf("divergent: archive name %q: %w", name, ErrNotFound)
	}
	return filepath.Join(s.dir, name+ext), nil
}

// write stores file (if not nil) and then m, each atomically: a temporary
// file, fsync, rename, fsync of the directory.
func (s store) write(m Manifest, file []byte) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("divergent: %w", err)
	}
	if file != nil {
		p, err := s.path(m.Name, ".resp")
		if err != nil {
			return err
		}
		if err := writeAtomic(p, file); err != nil {
			return err
		}
	}
	return s.putManifest(m)
}

func (s store) putManifest(m Manifest) error {
	p, err := s.path(m.Name, ".json")
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("divergent: encode manifest %s: %w", m.Name, err)
	}
	return writeAtomic(p, append(b, '\n'))
}

func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("divergent: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("divergent: write %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("divergent: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("divergent: fsync %s: %w", dir, err)
	}
	return nil
}

func (s store) manifest(name string) (Manifest, error) {
	p, err := s.path(name, ".json")
	if err != nil {
		return Manifest{}, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return Manifest{}, fmt.Errorf("divergent: archive %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("divergent: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("divergent: manifest %s: %w", p, err)
	}
	return m, nil
}

// file returns the archive's RESP file (empty when nothing was captured).
func (s store) file(m Manifest) ([]byte, error) {
	if m.File == "" {
		return nil, nil
	}
	p, err := s.path(m.Name, ".resp")
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("divergent: %w", err)
	}
	if int64(len(b)) != m.FileBytes {
		return nil, fmt.Errorf("divergent: %s has %d bytes, manifest says %d: %w", p, len(b), m.FileBytes, errCorrupt)
	}
	return b, nil
}

// list returns every manifest, oldest epoch first.
func (s store) list() ([]Manifest, error) {
	ents, err := os.ReadDir(s.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("divergent: %w", err)
	}
	var out []Manifest
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !nameRE.MatchString(name) {
			continue
		}
		m, err := s.manifest(name)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Epoch != out[j].Epoch {
			return out[i].Epoch < out[j].Epoch
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// remove deletes an archive: the manifest first, so a crash in between
// leaves only an orphan RESP file, never a manifest without its file.
func (s store) remove(name string) error {
	pj, err := s.path(name, ".json")
	if err != nil {
		return err
	}
	pr, _ := s.path(name, ".resp")
	if err := os.Remove(pj); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("divergent: archive %s: %w", name, ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("divergent: %w", err)
	}
	if err := os.Remove(pr); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("divergent: %w", err)
	}
	return syncDir(s.dir)
}

package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// ErrInvalid marks every error Load returns for a bad configuration, as
// opposed to a file that cannot be read. The CLI exits 2 on it.
var ErrInvalid = errors.New("invalid configuration")

// FileFlag is the flag naming the YAML configuration file.
const FileFlag = "config"

// EnvPrefix starts every environment variable vigil reads; "__" nests, so
// VIGIL_REDIS__ADDR sets redis.addr.
const EnvPrefix = "VIGIL_"

// secretKeys are masked when the configuration is printed.
var secretKeys = map[string]bool{
	"redis.password":        true,
	"gossip.encryption_key": true,
	"gossip.accepted_keys":  true,
	"sentinel.password":     true,
	"http.admin_token":      true,
	"http.enqueue_token":    true,
}

// removedKeys are keys of earlier versions, with what replaces them, so an
// old configuration file fails with a clear message rather than "unknown".
var removedKeys = map[string]string{
	"failover.election_timeout": "the Raft authority elects its leader itself (failover.raft_election_timeout tunes it); delete the key",
	"failover.cooldown": "a cooldown delayed recovery from a second failure by its whole length; anti-flap now caps automatic " +
		"failovers at failover.max_failovers per failover.flap_window and never delays one below the cap; delete the key",
	"failover.history_size": "the history lives in the replicated state (the last 64 failovers); delete the key",
}

// field is one leaf key of the configuration.
type field struct {
	key string
	typ reflect.Type
	def any
}

var durationType = reflect.TypeOf(time.Duration(0))

// fields lists every leaf key of c, in declaration order.
func fields(c Config) []field {
	var out []field
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			tag := sf.Tag.Get("koanf")
			if tag == "" || tag == "-" || !sf.IsExported() {
				continue
			}
			key := tag
			if prefix != "" {
				key = prefix + "." + tag
			}
			fv := v.Field(i)
			if tag == ",squash" {
				// An embedded package's keys live at this level.
				walk(prefix, fv)
				continue
			}
			if sf.Type.Kind() == reflect.Struct {
				walk(key, fv)
				continue
			}
			out = append(out, field{key: key, typ: sf.Type, def: fv.Interface()})
		}
	}
	walk("", reflect.ValueOf(c))
	return out
}

// RegisterFlags adds --config and one flag per configuration key, named
// with dots (--redis.addr), to fs.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String(FileFlag, "", "YAML configuration `file`")
	for _, f := range fields(Default()) {
		usage := "sets " + f.key
		switch f.typ {
		case durationType:
			fs.Duration(f.key, f.def.(time.Duration), usage)
			continue
		}
		switch f.typ.Kind() {
		case reflect.String:
			fs.String(f.key, reflect.ValueOf(f.def).String(), usage)
		case reflect.Bool:
			fs.Bool(f.key, reflect.ValueOf(f.def).Bool(), usage)
		case reflect.Int, reflect.Int64, reflect.Int32:
			fs.Int64(f.key, reflect.ValueOf(f.def).Int(), usage)
		case reflect.Uint, reflect.Uint64, reflect.Uint32:
			fs.Uint64(f.key, reflect.ValueOf(f.def).Uint(), usage)
		case reflect.Float64, reflect.Float32:
			fs.Float64(f.key, reflect.ValueOf(f.def).Float(), usage)
		case reflect.Slice:
			fs.StringSlice(f.key, toStrings(f.def), usage)
		default:
			panic(fmt.Sprintf("config: key %s has unsupported type %s", f.key, f.typ))
		}
	}
}

func toStrings(v any) []string {
	rv := reflect.ValueOf(v)
	out := make([]string, rv.Len())
	for i := range out {
		out[i] = fmt.Sprint(rv.Index(i).Interface())
	}
	return out
}

// Load builds the configuration: defaults, then the file named by --config,
// then VIGIL_ variables from environ, then flags set on fs. Every problem
// is reported at once; bad values are named with their key. Errors about
// the configuration's content wrap ErrInvalid.
func Load(fs *pflag.FlagSet, environ []string) (Config, error) {
	def := Default()
	known := make(map[string]field)
	k := koanf.New(".")
	for _, f := range fields(def) {
		known[f.key] = f
		if err := k.Set(f.key, f.def); err != nil {
			return Config{}, fmt.Errorf("config: default %s: %w", f.key, err)
		}
	}
	var errs []error
	set := func(source, key string, raw any) {
		f, ok := known[key]
		if why, gone := removedKeys[key]; gone && !ok {
			errs = append(errs, fmt.Errorf("%s: %s was removed: %s", source, key, why))
			return
		}
		if !ok {
			if near := suggest(key, known); near != "" {
				errs = append(errs, fmt.Errorf("%s: unknown key %q (did you mean %q?)", source, key, near))
			} else {
				errs = append(errs, fmt.Errorf("%s: unknown key %q", source, key))
			}
			return
		}
		v, err := convert(raw, f.typ)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", key, quote(raw), err))
			return
		}
		if err := k.Set(key, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}

	if path, _ := fs.GetString(FileFlag); path != "" {
		fk := koanf.New(".")
		if err := fk.Load(file.Provider(path), yaml.Parser()); err != nil {
			return Config{}, fmt.Errorf("%w: read %s: %w", ErrInvalid, path, err)
		}
		for _, key := range fk.Keys() {
			set("file "+path, key, fk.Get(key))
		}
	}

	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		key := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(name, EnvPrefix), "__", "."))
		// Configuration keys always nest; a flat VIGIL_X is context for
		// hook commands (VIGIL_EVENT, VIGIL_NODE ...), not configuration.
		if !strings.Contains(key, ".") {
			continue
		}
		set("environment "+name, key, val)
	}

	fs.Visit(func(fl *pflag.Flag) {
		if _, ok := known[fl.Name]; !ok {
			return
		}
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			set("flag --"+fl.Name, fl.Name, sv.GetSlice())
			return
		}
		set("flag --"+fl.Name, fl.Name, fl.Value.String())
	})

	cfg := def
	if err := k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{Tag: "koanf"}); err != nil {
		errs = append(errs, err)
	}
	cfg.fillDerived()
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return cfg, fmt.Errorf("%w:\n%w", ErrInvalid, errors.Join(errs...))
	}
	return cfg, nil
}

func quote(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// convert turns a value from YAML, the environment or a flag into typ.
func convert(raw any, typ reflect.Type) (any, error) {
	if typ == durationType {
		switch v := raw.(type) {
		case string:
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil {
				return nil, errors.New("invalid duration, want e.g. 250ms or 5s")
			}
			return d, nil
		case int, int64, float64:
			// A bare number is ambiguous (Sentinel uses milliseconds, Go
			// nanoseconds): refuse it rather than guess.
			return nil, errors.New("duration needs a unit, e.g. 250ms or 5s")
		}
		return nil, errors.New("invalid duration")
	}
	s := func() (string, bool) {
		switch v := raw.(type) {
		case string:
			return strings.TrimSpace(v), true
		case int, int64, uint64, float64, bool:
			return fmt.Sprint(v), true
		}
		return "", false
	}
	switch typ.Kind() {
	case reflect.String:
		if str, ok := raw.(string); ok {
			return str, nil
		}
		if str, ok := s(); ok {
			return str, nil
		}
		return nil, errors.New("want a string")
	case reflect.Bool:
		if str, ok := s(); ok {
			if b, err := strconv.ParseBool(str); err == nil {
				return b, nil
			}
		}
		return nil, errors.New("want true or false")
	case reflect.Int, reflect.Int64, reflect.Int32:
		if str, ok := s(); ok {
			if n, err := strconv.ParseInt(str, 10, 64); err == nil {
				return reflect.ValueOf(n).Convert(typ).Interface(), nil
			}
			if f, err := strconv.ParseFloat(str, 64); err == nil && f == float64(int64(f)) {
				return reflect.ValueOf(int64(f)).Convert(typ).Interface(), nil
			}
		}
		return nil, errors.New("want an integer")
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		if str, ok := s(); ok {
			if n, err := strconv.ParseUint(str, 10, 64); err == nil {
				return reflect.ValueOf(n).Convert(typ).Interface(), nil
			}
		}
		return nil, errors.New("want a non-negative integer")
	case reflect.Float64, reflect.Float32:
		if str, ok := s(); ok {
			if f, err := strconv.ParseFloat(str, 64); err == nil {
				return reflect.ValueOf(f).Convert(typ).Interface(), nil
			}
		}
		return nil, errors.New("want a number")
	case reflect.Slice:
		var out []string
		switch v := raw.(type) {
		case string:
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, p)
				}
			}
		case []string:
			out = v
		case []any:
			for _, e := range v {
				str, ok := e.(string)
				if !ok {
					return nil, errors.New("want a list of strings")
				}
				out = append(out, str)
			}
		default:
			return nil, errors.New("want a list of strings")
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported type %s", typ)
}

// Redacted returns the configuration as "key: value" pairs in declaration order with
// secrets masked, for printing.
func Redacted(c Config) [][2]string {
	fs := fields(c)
	out := make([][2]string, 0, len(fs))
	for _, f := range fs {
		v := fmt.Sprint(f.def)
		if f.typ.Kind() == reflect.Slice {
			v = "[" + strings.Join(toStrings(f.def), ", ") + "]"
		}
		if secretKeys[f.key] && v != "" && v != "[]" {
			v = "********"
		}
		if strings.HasSuffix(f.key, "_url") {
			v = maskURL(v)
		}
		out = append(out, [2]string{f.key, v})
	}
	return out
}

package gossip

import (
	"encoding/binary"
	"errors"
	"maps"
	"slices"
)

// Node metadata on the wire: a version byte, then entries sorted by key,
// each a key length (1 byte), the key, a value length (2 bytes, big-endian)
// and the value. SetMeta's value is the entry with the empty key; SetMetaKey
// sets the others, so several components can publish metadata without
// overwriting each other. No metadata at all is sent as nothing.
const metaVersion byte = 1

var errMetaFormat = errors.New("gossip: metadata is not in the keyed format")

// encodeMeta encodes the entries (the empty key is SetMeta's value).
func encodeMeta(entries map[string][]byte) []byte {
	if len(entries) == 0 {
		return nil
	}
	b := []byte{metaVersion}
	for _, k := range slices.Sorted(maps.Keys(entries)) {
		v := entries[k]
		b = append(b, byte(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
		b = append(b, v...)
	}
	return b
}

// decodeMeta decodes metadata encoded by encodeMeta; nil decodes to no
// entries.
func decodeMeta(b []byte) (map[string][]byte, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if b[0] != metaVersion {
		return nil, errMetaFormat
	}
	out := map[string][]byte{}
	for b = b[1:]; len(b) > 0; {
		kl := int(b[0])
		if len(b) < 1+kl+2 {
			return nil, errMetaFormat
		}
		k := string(b[1 : 1+kl])
		vl := int(binary.BigEndian.Uint16(b[1+kl:]))
		b = b[1+kl+2:]
		if len(b) < vl {
			return nil, errMetaFormat
		}
		out[k] = slices.Clone(b[:vl])
		b = b[vl:]
	}
	return out, nil
}

// splitMeta turns a member's wire metadata into Member.Meta and
// Member.Metadata. Metadata that is not in the keyed format (from an older
// build) is reported as Meta as it is.
func splitMeta(b []byte) ([]byte, map[string][]byte) {
	entries, err := decodeMeta(b)
	if err != nil {
		return slices.Clone(b), nil
	}
	raw := entries[""]
	delete(entries, "")
	if len(entries) == 0 {
		entries = nil
	}
	return raw, entries
}

package redirect

import (
	"strconv"

	"github.com/tidwall/redcon"
)

// RESP3 writing. redcon writes RESP2 only; these helpers write the RESP3
// types the endpoint needs (map %, set ~, push >, null _, verbatim =) and
// fall back to the RESP2 shape Redis sends for the same reply when the
// connection speaks RESP2 (proto 2).

// appendHeader appends a type byte and a length line.
func appendHeader(b []byte, t byte, n int) []byte {
	b = append(b, t)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '\r', '\n')
}

// appendMapLen starts a map of n pairs: %n in RESP3, a flat array of 2n
// elements in RESP2.
func appendMapLen(b []byte, proto, n int) []byte {
	if proto >= 3 {
		return appendHeader(b, '%', n)
	}
	return redcon.AppendArray(b, 2*n)
}

// appendSetLen starts a set: ~n in RESP3, an array in RESP2.
func appendSetLen(b []byte, proto, n int) []byte {
	if proto >= 3 {
		return appendHeader(b, '~', n)
	}
	return redcon.AppendArray(b, n)
}

// appendPushLen starts an out-of-band message (pub/sub): >n in RESP3, an
// array in RESP2.
func appendPushLen(b []byte, proto, n int) []byte {
	if proto >= 3 {
		return appendHeader(b, '>', n)
	}
	return redcon.AppendArray(b, n)
}

// appendNullBulk is a missing string: _ in RESP3, $-1 in RESP2.
func appendNullBulk(b []byte, proto int) []byte {
	if proto >= 3 {
		return append(b, "_\r\n"...)
	}
	return redcon.AppendNull(b)
}

// appendNullArray is a missing array: _ in RESP3, *-1 in RESP2.
func appendNullArray(b []byte, proto int) []byte {
	if proto >= 3 {
		return append(b, "_\r\n"...)
	}
	return append(b, "*-1\r\n"...)
}

// appendVerbatim is a text blob such as INFO's: =len txt:... in RESP3, a
// bulk string in RESP2.
func appendVerbatim(b []byte, proto int, s string) []byte {
	if proto >= 3 {
		b = appendHeader(b, '=', len(s)+4)
		b = append(b, "txt:"...)
		b = append(b, s...)
		return append(b, '\r', '\n')
	}
	return redcon.AppendBulkString(b, s)
}

// appendStringMap appends kv, a flat list of key/value pairs, as a map:
// Sentinel's shape for an instance (SENTINEL MASTER) and for CONFIG GET.
func appendStringMap(b []byte, proto int, kv []string) []byte {
	b = appendMapLen(b, proto, len(kv)/2)
	for _, f := range kv {
		b = redcon.AppendBulkString(b, f)
	}
	return b
}

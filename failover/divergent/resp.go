package divergent

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// The replication stream is a sequence of RESP arrays of bulk strings,
// one per command, exactly as a client would send them.

var (
	errIncomplete = errors.New("incomplete command")
	errMalformed  = errors.New("malformed command")
)

// maxArgs and maxBulk bound what parseCommand accepts, as Redis bounds a
// client's query buffer (proto-max-bulk-len defaults to 512 MiB).
const (
	maxArgs = 1 << 24
	maxBulk = 1 << 30
)

// parseCommand reads one command from the start of b. It returns the
// arguments (slices of b) and the number of bytes the command takes.
func parseCommand(b []byte) (args [][]byte, n int, err error) {
	if len(b) == 0 {
		return nil, 0, errIncomplete
	}
	if b[0] != '*' {
		return nil, 0, fmt.Errorf("%w: starts with %q, not '*'", errMalformed, b[0])
	}
	argc, pos, err := parseLen(b, 1, maxArgs)
	if err != nil {
		return nil, 0, err
	}
	if argc < 1 {
		return nil, 0, fmt.Errorf("%w: %d arguments", errMalformed, argc)
	}
	args = make([][]byte, 0, argc)
	for range argc {
		if pos >= len(b) {
			return nil, 0, errIncomplete
		}
		if b[pos] != '$' {
			return nil, 0, fmt.Errorf("%w: argument starts with %q, not '$'", errMalformed, b[pos])
		}
		l, p, err := parseLen(b, pos+1, maxBulk)
		if err != nil {
			return nil, 0, err
		}
		if l < 0 {
			return nil, 0, fmt.Errorf("%w: null argument", errMalformed)
		}
		end := p + l
		if end+2 > len(b) {
			return nil, 0, errIncomplete
		}
		if b[end] != '\r' || b[end+1] != '\n' {
			return nil, 0, fmt.Errorf("%w: bulk not terminated by CRLF", errMalformed)
		}
		args = append(args, b[p:end:end])
		pos = end + 2
	}
	return args, pos, nil
}

// parseLen reads a decimal length terminated by CRLF at b[i:].
func parseLen(b []byte, i, limit int) (int, int, error) {
	j := bytes.IndexByte(b[i:], '\r')
	if j < 0 {
		if len(b)-i > 20 {
			return 0, 0, fmt.Errorf("%w: length too long", errMalformed)
		}
		return 0, 0, errIncomplete
	}
	if i+j+1 >= len(b) {
		return 0, 0, errIncomplete
	}
	if b[i+j+1] != '\n' {
		return 0, 0, fmt.Errorf("%w: length not terminated by CRLF", errMalformed)
	}
	n, err := strconv.Atoi(string(b[i : i+j]))
	if err != nil || n > limit || n < -1 {
		return 0, 0, fmt.Errorf("%w: length %q", errMalformed, b[i:i+j])
	}
	return n, i + j + 2, nil
}

// appendCommand appends the RESP encoding of args to b.
func appendCommand(b []byte, args ...[]byte) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}

package retryq

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
)

type errClass int

const (
	classItem      errClass = iota // this item failed; spend an attempt, back off
	classPrimary                   // the primary is unreachable or not writable
	classPermanent                 // retrying cannot help: dead-letter now
	classNoScript                  // the replay script must be loaded again
)

// classify sorts a replay error. Only errors that Redis returned for this
// very command can be the item's fault; anything about the connection or
// the server's state is the primary's.
func classify(err error) errClass {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return classPrimary
	}
	msg := rerr.Error()
	code, _, _ := strings.Cut(msg, " ")
	switch code {
	case "NOSCRIPT":
		return classNoScript
	case "WRONGTYPE", "NOPERM":
		return classPermanent
	case "READONLY", "LOADING", "MASTERDOWN", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS",
		"OOM", "NOAUTH", "WRONGPASS", "MISCONF", "NOTBUSY", "UNBLOCKED":
		// OOM and MISCONF concern the whole server, not the item: spending
		// attempts on them would dead-letter the queue during an incident.
		return classPrimary
	}
	lower := strings.ToLower(msg)
	for _, s := range []string{
		"syntax error", "wrong number of arguments", "unknown command", "unknown redis command",
		"not allowed from script", "unknown subcommand", "not allowed from scripts",
	} {
		if strings.Contains(lower, s) {
			return classPermanent
		}
	}
	return classItem
}

// Retryable reports whether err from a write means "no writable primary
// right now" — connection refused or reset, a timeout, READONLY, LOADING,
// MASTERDOWN, or no primary known — so the write is worth queueing.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, redis.ErrClosed) || errors.Is(err, context.Canceled) {
		return false
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		code, _, _ := strings.Cut(rerr.Error(), " ")
		switch code {
		case "READONLY", "LOADING", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN":
			return true
		}
		return false
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, net.ErrClosed) {
		return true
	}
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		return true
	}
	var operr *net.OpError
	if errors.As(err, &operr) {
		return true
	}
	msg := strings.ToLower(err.Error())
	for _, s := range []string{
		"connection refused", "connection reset", "broken pipe", "i/o timeout", "pool timeout",
		"all sentinels", "no primary", "master is down", "masterdown", "no master",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// listener is one socket the sidecar opens.
type listener struct{ key, addr string }

// listenerProblems checks every listen address's port (http.listen_addr,
// which no package validates, and all of them against each other): two
// listeners on one port clash when their hosts overlap (equal, or either
// is a wildcard). Port 0 (any free port) never clashes.
func listenerProblems(c Config) []error {
	ls := []listener{
		{"http.listen_addr", c.HTTP.ListenAddr},
		{"sentinel.listen_addr", c.Sentinel.ListenAddr},
		{"proxy.listen_addr", c.Proxy.ListenAddr},
		{"gossip.bind_addr", c.Gossip.BindAddr},
	}
	var errs []error
	type bound struct {
		key, host string
		port      int
	}
	var seen []bound
	for _, l := range ls {
		if l.addr == "" {
			continue
		}
		host, p, err := net.SplitHostPort(l.addr)
		if err != nil {
			if l.key == "http.listen_addr" {
				errs = append(errs, fmt.Errorf("%s (%q): want host:port", l.key, l.addr))
			}
			continue // the owning package reports it
		}
		port, err := strconv.Atoi(p)
		if err != nil || port < 0 || port > 65535 {
			if l.key == "http.listen_addr" {
				errs = append(errs, fmt.Errorf("%s (%q): port must be in 0-65535", l.key, l.addr))
			}
			continue
		}
		if port == 0 {
			continue
		}
		for _, b := range seen {
			if b.port == port && hostsOverlap(b.host, host) {
				errs = append(errs, fmt.Errorf("%s (%q) clashes with %s: both listen on port %d", l.key, l.addr, b.key, port))
			}
		}
		seen = append(seen, bound{l.key, host, port})
	}
	return errs
}

// hostsOverlap reports whether listeners on hosts a and b would take the
// same port: the same host, or either one all interfaces.
func hostsOverlap(a, b string) bool {
	wild := func(h string) bool {
		ip := net.ParseIP(h)
		return h == "" || (ip != nil && ip.IsUnspecified())
	}
	return wild(a) || wild(b) || strings.EqualFold(a, b)
}

// maskURL hides the credentials a URL carries, so printing a webhook URL
// does not print them: the user information, and the values of query
// parameters named like a credential (token, key, password, secret, ...).
func maskURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "********")
		} else {
			u.User = url.User("********")
		}
	}
	if u.RawQuery != "" {
		// Parameter by parameter, in their order: url.Values would sort them.
		parts := strings.Split(u.RawQuery, "&")
		for i, p := range parts {
			name, _, ok := strings.Cut(p, "=")
			if n, err := url.QueryUnescape(name); err == nil {
				name = n
			}
			if ok && credentialParam(name) {
				parts[i] = url.QueryEscape(name) + "=********"
			}
		}
		u.RawQuery = strings.Join(parts, "&")
	}
	return u.String()
}

// credentialParam reports whether a query parameter's name says it carries
// a credential: token, access_token, key, api_key, apikey, password, pass,
// secret, client_secret, auth, sig, signature, ...
func credentialParam(name string) bool {
	name = strings.ToLower(name)
	for _, w := range []string{"token", "key", "pass", "secret", "auth", "sig", "credential"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// suggest returns the known key closest to key (by edit distance), for
// "did you mean", or "" when none is close.
func suggest(key string, known map[string]field) string {
	best, bestD := "", 4 // more than three edits away is no suggestion
	for k := range known {
		if d := EditDistance(key, k); d < bestD || (d == bestD && best != "" && k < best) {
			best, bestD = k, d
		}
	}
	return best
}

// EditDistance is the Levenshtein distance between a and b; the CLI uses
// it for "did you mean" on flags as config does on keys.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

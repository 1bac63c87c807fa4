// Package netns builds private network namespaces for vigil's fault tests
// and benchmarks (internal/netpart, internal/chaos, internal/bench): one
// uid per node whose packets carry that node's 127.0.0.x address, so
// iptables rules on addresses cut real links. See internal/netpart's
// package comment for why per-uid policy routing is needed. Linux only;
// everything needs root.
package netns

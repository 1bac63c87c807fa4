// Package monitor probes one Redis node and describes it as an
// Observation: whether it answered (and if not, a Reason), its replication
// role, history and offset, its link to its primary and whether it ever
// completed a sync, its replicas and its lag.
//
// Probe is a stateless probe of any node (the failover logic probes the
// current primary with it). Prober probes the local node every
// monitor.interval, remembers what one INFO cannot show, computes lag
// against the primary, exports metrics and announces changes on Updates.
package monitor

// Package divergent keeps the writes a former primary acknowledged after the
// fork point of a failover, instead of letting its demotion discard them.
//
// Redis replication is asynchronous: when a replica is promoted, the old
// primary may have accepted writes the replica never received. Demoting the
// old primary (REPLICAOF) makes it full-sync from the new one and those
// writes are gone. They are still in the old primary's replication backlog,
// though, so before the demotion vigil connects to it as a replica would,
// asks for a partial resync from the fork point (PSYNC <old replid>
// <fork+1>), and reads exactly the commands it accepted after the fork.
//
// The pieces:
//
//   - ParseFork reads the fork point from the new primary's INFO replication.
//   - Capture reads the divergent tail from the former primary.
//   - Store keeps archives in node.data_dir/divergent: a RESP file that
//     redis-cli --pipe applies, and a JSON manifest beside it.
//   - Replay applies an archive to a primary at most once per unit
//     (a command or a MULTI/EXEC block), keyed by old replid and offset.
//   - Keeper is the seam the failover shell calls: capture, then archive,
//     replay or discard (failover.divergent_writes), then return.
//   - Handler serves /v1/divergent for `vigil divergent ls|show|replay|rm`.
package divergent

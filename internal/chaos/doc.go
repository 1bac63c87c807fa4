// Package chaos is vigil's Jepsen-style fault suite: it starts N
// redis-server and N vigil processes in a private network namespace,
// runs recorded workloads against them while a nemesis injects faults from
// a seeded schedule, heals everything, and checks the recorded History
// against vigil's promises.
//
// The pieces are separate so each can be tested on its own:
//   - Schedule (schedule.go) is a pure function of seed, duration and node
//     count: the same inputs give the same faults at the same offsets.
//   - Check (check.go) is a set of pure rules over a History: lost
//     acknowledged writes, two nodes accepting writes at once, a
//     non-linearizable register history, retry-queue items applied twice
//     or never, writes unavailable after a fault a healthy majority should
//     recover from, and sidecars that panicked or exited.
//   - The harness, workloads and nemesis (the _linux.go files) run real
//     processes; TestChaos drives them, and `make chaos` runs it with a
//     chosen SEED, DURATION and NODES.
package chaos

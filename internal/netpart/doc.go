// Package netpart holds vigil's real-partition test: three Redis nodes and
// their sidecars in a private network namespace, with iptables cutting the
// links between them. The package has no API; see netpart_linux_test.go.
//
// How the links are cut. On loopback the kernel gives an unbound socket the
// source address 127.0.0.1, whichever 127.0.0.x it dials, and memberlist's
// TCP dials and go-redis's dials do not bind a source; an iptables rule on
// addresses alone would miss them. Each node's processes therefore run under
// their own uid, and a policy-routing rule per uid (ip rule ... uidrange)
// selects a local route whose preferred source is that node's address. Every
// packet a node sends then carries its address, as on a real host, and a
// partition is a pair of address rules per cut link
// (iptables -A OUTPUT -s A -d B -j DROP and the reverse). Matching on the
// sending uid alone (-m owner) is not enough: on a connection the other side
// opened from 127.0.0.1 before the cut, replies go to 127.0.0.1 and would
// still get through.
package netpart

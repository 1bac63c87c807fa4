#!/bin/sh
# chaos-long: run seeds one after another for $LONG (default 30m) with
# $NODES nodes and $DURATION of faults each, starting at seed $SEED, and
# print one line per seed and the seeds that failed. Run by `make
# chaos-long`; not part of `make test`.
set -u
GO=${GO:-go}
LONG=${LONG:-30m}
NODES=${NODES:-3}
DURATION=${DURATION:-60s}
SEED=${SEED:-1}
OUT=${OUT:-chaos-long-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
secs() { case "$1" in *h) echo $(( ${1%h} * 3600 ));; *m) echo $(( ${1%m} * 60 ));; *s) echo "${1%s}";; *) echo "$1";; esac; }
end=$(( $(date +%s) + $(secs "$LONG") ))
$GO test -c -o "$OUT/chaos.test" ./internal/chaos/ || exit 2
failed=""
runs=0
seed=$SEED
while [ "$(date +%s)" -lt "$end" ]; do
	log="$OUT/seed-$seed-n$NODES.log"
	CHAOS_SEED=$seed CHAOS_DURATION=$DURATION CHAOS_NODES=$NODES CHAOS_KEEP="$OUT/seed-$seed-n$NODES" \
		"$OUT/chaos.test" -test.run '^TestChaos$' -test.count=1 -test.v -test.timeout 30m >"$log" 2>&1
	rc=$?
	verdict=$(grep '| verdict' "$log" | sed 's/|[^|]*| *//; s/ *|$//')
	[ -n "$verdict" ] || verdict="harness error (exit $rc), see $log"
	echo "seed $seed nodes $NODES: $verdict"
	[ $rc -eq 0 ] || failed="$failed $seed"
	runs=$((runs + 1))
	seed=$((seed + 1))
done
echo "chaos-long: $runs runs of $DURATION with $NODES nodes; failed seeds:${failed:- none}; logs in $OUT"
[ -z "$failed" ]

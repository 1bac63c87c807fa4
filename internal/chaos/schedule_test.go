package chaos

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestScheduleIsPure(t *testing.T) {
	for _, n := range []int{3, 5} {
		a := Schedule(42, 2*time.Minute, n)
		b := Schedule(42, 2*time.Minute, n)
		if diff := cmp.Diff(a, b); diff != "" {
			t.Fatalf("n=%d: same seed, different plans (-first +second):\n%s", n, diff)
		}
		c := Schedule(43, 2*time.Minute, n)
		if cmp.Equal(a.Faults, c.Faults) {
			t.Errorf("n=%d: seeds 42 and 43 give the same faults", n)
		}
	}
}

func TestScheduleShape(t *testing.T) {
	kinds := map[FaultKind]int{}
	for seed := uint64(1); seed <= 50; seed++ {
		for _, n := range []int{3, 5} {
			d := 90 * time.Second
			p := Schedule(seed, d, n)
			if len(p.Persist) != n {
				t.Fatalf("seed %d n %d: %d persistence flags", seed, n, len(p.Persist))
			}
			if len(p.Faults) == 0 {
				t.Fatalf("seed %d n %d: no faults", seed, n)
			}
			var netemUntil, prev time.Duration
			overlaps := 0
			var lastEnd time.Duration
			for i, f := range p.Faults {
				kinds[f.Kind]++
				if f.ID != i+1 {
					t.Errorf("seed %d: fault %d has id %d", seed, i, f.ID)
				}
				if f.At < prev || f.At >= d || f.At+f.For > d || f.For < 0 {
					t.Errorf("seed %d: %v outside [0, %s) or out of order", seed, f, d)
				}
				if f.At < lastEnd {
					overlaps++
				}
				lastEnd = max(lastEnd, f.At+f.For)
				prev = f.At
				if f.Pick < 0 || f.Pick >= n {
					t.Errorf("seed %d: %v picks outside 0..%d", seed, f, n-1)
				}
				for _, x := range f.Extra {
					if x < 1 || x >= n {
						t.Errorf("seed %d: %v has extra offset %d", seed, f, x)
					}
				}
				if f.Kind == PartHalves && 1+len(f.Extra) > (n-1)/2 {
					t.Errorf("seed %d: %v: the focus's side is not a minority of %d", seed, f, n)
				}
				if f.Kind == Netem {
					if f.At < netemUntil {
						t.Errorf("seed %d: %v overlaps another netem fault", seed, f)
					}
					netemUntil = f.At + f.For
				}
			}
			if overlaps == 0 {
				t.Errorf("seed %d n %d: no two faults overlap", seed, n)
			}
		}
	}
	for _, k := range append([]FaultKind{PauseWinner, WipeIsolated}, func() (ks []FaultKind) {
		for _, kw := range kindWeights() {
			ks = append(ks, kw.k)
		}
		return ks
	}()...) {
		if kinds[k] == 0 {
			t.Errorf("no seed in 1..50 schedules %s", k)
		}
	}
}

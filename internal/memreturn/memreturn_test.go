package memreturn

import (
	"runtime/debug"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestShouldReturn(t *testing.T) {
	const mib = 1 << 20
	cases := []struct {
		name string
		s    Stats
		want bool
	}{
		{"idle small relay", Stats{Free: 3 * mib, Live: 6 * mib}, false},
		{"after churn: much free, little live", Stats{Free: 120 * mib, Live: 7 * mib}, true},
		{"busy: free below half the live heap", Stats{Free: 40 * mib, Live: 90 * mib}, false},
		{"busy relay after churn", Stats{Free: 50 * mib, Live: 90 * mib}, true},
		{"at the floor", Stats{Free: MinFree, Live: 1}, true},
		{"just under the floor", Stats{Free: MinFree - 1, Live: 0}, false},
	}
	for _, tc := range cases {
		if got := ShouldReturn(tc.s); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestReadAndReturn: the runtime's figures are readable, and after a burst
// of garbage returning brings the free heap below the floor.
func TestReadAndReturn(t *testing.T) {
	if st := Read(); st.Live == 0 {
		t.Fatalf("no live heap read: %+v", st)
	}
	var keep [][]byte
	for range 64 {
		keep = append(keep, make([]byte, 1<<20))
	}
	keep = nil
	_ = keep
	debug.FreeOSMemory() // what Run does when ShouldReturn holds
	st := Read()
	if st.Free >= MinFree {
		t.Fatalf("free heap %d after returning, want below %d", st.Free, MinFree)
	}
}

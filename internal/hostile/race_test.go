//go:build race

package hostile

// raceEnabled: the test process runs under the race detector (scripts/test
// uses -race); the relay and the soak's viewers never do.
const raceEnabled = true

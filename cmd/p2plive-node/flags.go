package main

import (
	"fmt"
	"math"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/p2plive/p2plive-node/internal/cli"
	"github.com/p2plive/p2plive-node/node"
)

// Checks shared by the validators below; each returns the usage error for
// the named flag, or nil.

func atLeast(fs *pflag.FlagSet, name string, v, min int) error {
	if v < min {
		return cli.BadValue(fs, name, fmt.Sprintf("must be at least %d", min))
	}
	return nil
}

func positiveDuration(fs *pflag.FlagSet, name string, d time.Duration) error {
	if d <= 0 {
		return cli.BadValue(fs, name, "must be a positive duration, like 30s")
	}
	return nil
}

// firstErr returns the first non-nil error: validators list their checks
// in flag order and report only the first problem, one line.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// unknownCommand is the root's argument check: the root runs no command of
// its own, so any argument is a mistyped command. Cobra's own message is
// not a usage error (exit 1) and may append suggestions on more lines.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return cli.UsageError{Err: fmt.Errorf("unknown command %q (see %s --help)", args[0], cmd.CommandPath())}
	}
	return nil
}

// Report and guest bounds: the tree package's defaults (node.RelayConfig
// says 0 means these), repeated here so that --help shows the real values
// and a value given is always passed on as given.
const (
	defaultMaxReportNodes = 2000
	defaultMaxReportDepth = 64
	defaultMaxReportBytes = 512 << 10
	defaultGuestTimeout   = 30 * time.Second
	defaultRateLimit      = 50
	defaultRateBurst      = 500
)

// relayFlags are the flags of a node that accepts children: join and host
// register and validate them here, once, so that both commands accept
// and refuse the same values.
type relayFlags struct {
	maxChildren    int
	rateLimit      float64
	rateBurst      int
	maxReportNodes int
	maxReportDepth int
	maxReportBytes int
	guestTimeout   time.Duration
}

func (r *relayFlags) register(f *pflag.FlagSet) {
	f.IntVar(&r.maxChildren, "max-children", 0, "most children accepted; 0 means unlimited")
	f.Float64Var(&r.rateLimit, "rate-limit", defaultRateLimit, "messages per second accepted from each child (> 0)")
	f.IntVar(&r.rateBurst, "rate-burst", defaultRateBurst, "messages a child may send at once above --rate-limit (≥ 1)")
	f.IntVar(&r.maxReportNodes, "max-report-nodes", defaultMaxReportNodes, "most nodes a child's report may claim in its subtree")
	f.IntVar(&r.maxReportDepth, "max-report-depth", defaultMaxReportDepth, "deepest nesting a child's report may have")
	f.IntVar(&r.maxReportBytes, "max-report-bytes", defaultMaxReportBytes, "largest child report, in bytes as packed")
	f.DurationVar(&r.guestTimeout, "guest-timeout", defaultGuestTimeout, "close an incoming connection that has not reported (a page reading the room map) after this long")
}

// validate refuses what the tree would silently reinterpret: a rate of 0
// means the default there, NaN or +Inf switch the limit off, and a zero
// bound would mean its default too.
func (r *relayFlags) validate(fs *pflag.FlagSet) error {
	var rate error
	if math.IsNaN(r.rateLimit) || math.IsInf(r.rateLimit, 0) || r.rateLimit <= 0 {
		rate = cli.BadValue(fs, "rate-limit", "must be a finite number of messages per second above 0")
	}
	var children error
	if r.maxChildren < 0 {
		children = cli.BadValue(fs, "max-children", "must not be negative (0 means unlimited)")
	}
	return firstErr(
		children,
		rate,
		atLeast(fs, "rate-burst", r.rateBurst, 1),
		atLeast(fs, "max-report-nodes", r.maxReportNodes, 1),
		atLeast(fs, "max-report-depth", r.maxReportDepth, 1),
		atLeast(fs, "max-report-bytes", r.maxReportBytes, 1),
		positiveDuration(fs, "guest-timeout", r.guestTimeout),
	)
}

// apply copies the validated flags into a relay configuration (MaxChildren
// too: the host keeps its own copy in HostConfig).
func (r *relayFlags) apply(rc *node.RelayConfig) {
	rc.MaxChildren = r.maxChildren
	rc.RateLimit = r.rateLimit
	rc.RateBurst = r.rateBurst
	rc.MaxReportNodes = r.maxReportNodes
	rc.MaxReportDepth = r.maxReportDepth
	rc.MaxReportBytes = r.maxReportBytes
	rc.GuestTimeout = r.guestTimeout
}

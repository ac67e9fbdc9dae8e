package main

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/p2plive/p2plive-node/node"
)

// envAnnotation marks a flag whose value applyEnv took from the
// environment, so that an error about the value can name the variable the
// user has to fix rather than a flag they never typed.
const envAnnotation = "p2plive-node/env"

// flagLabel names a flag for an error message: "--max-children", or
// "--max-children (from P2PLIVE_MAX_CHILDREN)" when its value came from
// the environment.
func flagLabel(fs *pflag.FlagSet, name string) string {
	label := "--" + name
	if f := fs.Lookup(name); f != nil {
		if env := f.Annotations[envAnnotation]; len(env) > 0 {
			label += " (from " + env[0] + ")"
		}
	}
	return label
}

// badValue is the one-line usage error for a flag's value: the flag, the
// value as given (strings quoted, so that an empty one shows), and what is
// wrong with it.
func badValue(fs *pflag.FlagSet, name, problem string) error {
	f := fs.Lookup(name)
	if f == nil { // a programming error; still say which flag
		return usageError{fmt.Errorf("--%s: %s", name, problem)}
	}
	val := f.Value.String()
	if f.Value.Type() == "string" {
		val = strconv.Quote(val)
	}
	label := "--" + name + " " + val
	if env := f.Annotations[envAnnotation]; len(env) > 0 {
		label += " (from " + env[0] + ")"
	}
	return usageError{fmt.Errorf("%s: %s", label, problem)}
}

// given reports whether the user set the flag, on the command line or in
// the environment: only then does a bound that depends on another flag
// (--max-pending-bytes against --max-message-size) apply to it as given.
func given(fs *pflag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	return f != nil && (f.Changed || len(f.Annotations[envAnnotation]) > 0)
}

// Checks shared by the validators below; each returns the usage error for
// the named flag, or nil.

func atLeast(fs *pflag.FlagSet, name string, v, min int) error {
	if v < min {
		return badValue(fs, name, fmt.Sprintf("must be at least %d", min))
	}
	return nil
}

func positiveDuration(fs *pflag.FlagSet, name string, d time.Duration) error {
	if d <= 0 {
		return badValue(fs, name, "must be a positive duration, like 30s")
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

// noArgs is cobra.NoArgs as a usage error (exit 2): a stray positional
// argument is bad input like a bad flag, not a failure of the node.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s: unexpected argument %q (this command takes flags only)", cmd.Name(), args[0])}
	}
	return nil
}

// unknownCommand is the root's argument check: the root runs no command of
// its own, so any argument is a mistyped command. Cobra's own message is
// not a usage error (exit 1) and may append suggestions on more lines.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("unknown command %q (see %s --help)", args[0], cmd.CommandPath())}
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
		rate = badValue(fs, "rate-limit", "must be a finite number of messages per second above 0")
	}
	var children error
	if r.maxChildren < 0 {
		children = badValue(fs, "max-children", "must not be negative (0 means unlimited)")
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

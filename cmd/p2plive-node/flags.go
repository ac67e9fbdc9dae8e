package main

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/p2plive/p2plive-node/internal/cli"
	"github.com/p2plive/p2plive-node/node"
	"github.com/p2plive/p2plive-node/tree"
)

// flagOf names the flag bound to each config field that a node.FieldError
// can name (node's Validate names fields, the user reads flags).
var flagOf = map[string]string{
	"ID":              "id",
	"MaxMessageSize":  "max-message-size",
	"MaxPendingBytes": "max-pending-bytes",
	"MaxConnsPerPeer": "max-conns-per-peer",
	"MaxConns":        "max-conns",
	"DrainTimeout":    "drain-timeout",
	"MaxChildren":     "max-children",
	"RateLimit":       "rate-limit",
	"RateBurst":       "rate-burst",
	"MaxReportNodes":  "max-report-nodes",
	"MaxReportDepth":  "max-report-depth",
	"MaxReportBytes":  "max-report-bytes",
	"GuestTimeout":    "guest-timeout",
	"Parent":          "parent",
	"Greeting":        "greeting",
	"MediaTimeout":    "media-timeout",
	"RootID":          "index",
	"IDs":             "id",
	"RoomTimeout":     "room-timeout",
	"MaxClients":      "max-clients",
}

// fieldName matches a field named inside a problem ("at least 2 ×
// MaxMessageSize").
var fieldName = regexp.MustCompile(`\b[A-Z][A-Za-z]+\b`)

// validate turns the error of a config's Validate into the usage error the
// user reads: one line naming the flag (and its variable, if the value
// came from the environment) with the value as typed. Exit 2.
func validate(cmd *cobra.Command, err error) error {
	var fe *node.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	fs := cmd.Flags()
	flag, ok := flagOf[fe.Field]
	if !ok { // a field without a flag: a programming error, still one line
		return cli.UsageError{Err: err}
	}
	if errors.Is(fe, node.ErrRequired) {
		return cli.UsageError{Err: fmt.Errorf("%s: --%s %w", cmd.Name(), flag, node.ErrRequired)}
	}
	if s, isString := fe.Value.(string); isString {
		// As given, even where one flag fills a list (root --id).
		return cli.UsageError{Err: fmt.Errorf("%s %q: %w", cli.FlagLabel(fs, flag), s, fe.Err)}
	}
	problem := fieldName.ReplaceAllStringFunc(fe.Err.Error(), func(f string) string {
		if name, ok := flagOf[f]; ok {
			return "--" + name
		}
		return f
	})
	return cli.BadValue(fs, flag, problem)
}

// typedZero: node reads a 0 in the fields of these flags as "the default",
// but a 0 the user typed is a number, not a request for the default. It is
// passed on as -1, so that Validate refuses it like any value below the
// range; the message shows the value as typed (cli.BadValue reads the flag).
func typedZero[T ~int | ~int64 | ~float64](fs *pflag.FlagSet, name string, p *T) {
	if *p == 0 && cli.Given(fs, name) {
		*p = -1
	}
}

// bindChildLimits binds the flags of a node that accepts children (join
// and host), so that both commands accept and refuse the same values.
// The defaults shown are tree's, which a 0 in the field would mean.
func bindChildLimits(f *pflag.FlagSet, l *node.ChildLimits) {
	f.IntVar(&l.MaxChildren, "max-children", 0, "most children accepted; 0 means unlimited")
	f.Float64Var(&l.RateLimit, "rate-limit", tree.DefaultRateLimit, "messages per second accepted from each child (> 0)")
	f.IntVar(&l.RateBurst, "rate-burst", tree.DefaultRateBurst, "messages a child may send at once above --rate-limit (≥ 1)")
	f.IntVar(&l.MaxReportNodes, "max-report-nodes", tree.DefaultMaxReportNodes, "most nodes a child's report may claim in its subtree")
	f.IntVar(&l.MaxReportDepth, "max-report-depth", tree.DefaultMaxReportDepth, "deepest nesting a child's report may have")
	f.IntVar(&l.MaxReportBytes, "max-report-bytes", tree.DefaultMaxReportBytes, "largest child report, in bytes as packed")
	f.DurationVar(&l.GuestTimeout, "guest-timeout", tree.DefaultGuestTimeout, "close an incoming connection that has not reported (a page reading the room map) after this long")
}

// childLimitZeros applies typedZero to the child limits (0 children is
// "unlimited", a value of its own).
func childLimitZeros(fs *pflag.FlagSet, l *node.ChildLimits) {
	typedZero(fs, "rate-limit", &l.RateLimit)
	typedZero(fs, "rate-burst", &l.RateBurst)
	typedZero(fs, "max-report-nodes", &l.MaxReportNodes)
	typedZero(fs, "max-report-depth", &l.MaxReportDepth)
	typedZero(fs, "max-report-bytes", &l.MaxReportBytes)
	typedZero(fs, "guest-timeout", &l.GuestTimeout)
}

// bindDrainTimeout binds --drain-timeout (join and host: the nodes with
// children to move).
func bindDrainTimeout(f *pflag.FlagSet, d *time.Duration) {
	f.DurationVar(d, "drain-timeout", node.DefaultDrainTimeout, "on SIGTERM/SIGINT, how long to wait for children to move before exiting (a second signal exits at once)")
}

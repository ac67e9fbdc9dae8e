package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/node"
)

// treeCommon is the node.Common of a node with children (join, host):
// the common flags and --drain-timeout; it also passes a typed 0 in the
// child limits on as such (typedZero).
func (cf *commonFlags) treeCommon(fs *pflag.FlagSet, drainTimeout time.Duration, l *node.ChildLimits) (node.Common, error) {
	c, err := cf.common(fs)
	if err != nil {
		return c, err
	}
	// 0 would mean the default drain in node, not "exit at once": a
	// second signal is the way to that.
	c.DrainTimeout = drainTimeout
	typedZero(fs, "drain-timeout", &c.DrainTimeout)
	childLimitZeros(fs, l)
	return c, nil
}

// runTree validates a relay's or host's config (check), gives it its
// logger (in c, the config's Common), starts it and serves it until it
// ends: on the second signal (the command's context) or after a drain.
func (cf *commonFlags) runTree(cmd *cobra.Command, c *node.Common, check func() error, start func(context.Context) (*node.Node, error)) error {
	if err := validate(cmd, check()); err != nil {
		return err
	}
	if err := cf.logger(cmd.Flags(), c); err != nil {
		return err
	}
	defer c.Logger.Sync() //nolint:errcheck // stderr sync errors are meaningless
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	j, err := start(ctx)
	if err != nil {
		return err
	}
	return serveNode(cancel, j, cf.debugAddr, c.Logger)
}

// serveNode runs a started node of any role with its diagnostics (the
// debug server, memreturn) until it ends; cancel stops it when the debug
// server cannot start.
func serveNode(cancel context.CancelFunc, j *node.Node, debugAddr string, log *zap.Logger) error {
	dbg, err := startDebug(debugAddr, j.Stats, log)
	if err != nil {
		cancel()
		_ = j.Wait()
		return err
	}
	defer dbg.close()
	defer startMemReturn(log)()
	return j.Wait()
}

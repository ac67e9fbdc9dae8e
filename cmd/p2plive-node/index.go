package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/p2plive/p2plive-node/internal/cli"
	"github.com/p2plive/p2plive-node/node"
	"github.com/p2plive/p2plive-node/tree"
)

// rootFlags binds the flags of the index root (root, join --root).
type rootFlags struct{ cfg node.RootConfig }

func (rf *rootFlags) register(f *pflag.FlagSet, withID bool) {
	if withID {
		f.StringArrayVar(&rf.cfg.IDs, "id", nil, "index id to claim; repeat to serve several page generations (default "+strings.Join(node.DefaultRootIDs, ",")+")")
	}
	f.BoolVar(&rf.cfg.Wait, "wait", false, "keep retrying while the id is taken instead of failing")
	f.DurationVar(&rf.cfg.RoomTimeout, "room-timeout", tree.DefaultRoomTimeout, "drop a room whose host has been unreachable this long")
	f.IntVar(&rf.cfg.MaxClients, "max-clients", node.DefaultMaxIndexClients, "connections (hosts and index pages) each index id accepts at once (≥ 1)")
}

func newRootIndexCmd(cf *commonFlags) *cobra.Command {
	var rf rootFlags
	cmd := &cobra.Command{
		Use:   "root",
		Short: "Stand as the always-on index root that keeps the list of live rooms",
		Long: `root claims the index id the pages look for (P2P-Live-Web-Default-ID by
default; generation A pages of 2024 use P2P-Live-Web-default-Id) and keeps the
room list: hosts register their room maps, index pages receive the list.
Repeat --id to serve several ids (one list each).`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRoot(cmd, cf, rf) },
	}
	rf.register(cmd.Flags(), true)
	return cmd
}

// runRoot runs the index root; the ids may have come from join's --id, so
// their label is the same either way.
func runRoot(cmd *cobra.Command, cf *commonFlags, rf rootFlags) error {
	fs := cmd.Flags()
	rc := rf.cfg
	if len(rc.IDs) == 0 && cli.Given(fs, "id") {
		// An empty P2PLIVE_ID: like --id '', not a way to say "default".
		rc.IDs = []string{""}
	}
	c, err := cf.common(fs)
	if err != nil {
		return err
	}
	rc.Common = c
	rc.ID = "" // the root claims rc.IDs
	typedZero(fs, "room-timeout", &rc.RoomTimeout)
	typedZero(fs, "max-clients", &rc.MaxClients)
	if err := validate(cmd, rc.Validate()); err != nil {
		return err
	}
	if err := cf.logger(fs, &rc.Common); err != nil {
		return err
	}
	defer rc.Logger.Sync() //nolint:errcheck // stderr sync errors are meaningless
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	n, err := node.StartRoot(ctx, rc)
	if err != nil {
		return err
	}
	return serveNode(cancel, n, cf.debugAddr, rc.Logger)
}

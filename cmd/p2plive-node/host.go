package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/p2plive/p2plive-node/internal/cli"
	"github.com/p2plive/p2plive-node/node"
)

func newHostCmd(cf *commonFlags) *cobra.Command {
	var (
		hc           node.HostConfig
		unlisted     bool
		drainTimeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "host",
		Short: "Host a room that streams the built-in test clip (for tests and benchmarks)",
		Long: `host stands as a room host speaking the P2P-Live-web tree protocol (room
map, reports, chat) and streams a committed 10 s VP8 + Opus test clip, looped,
to every child: a source that needs no camera and no browser. The room is
registered with the index root (--index) unless --unlisted.`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fs := cmd.Flags()
			if unlisted {
				hc.RootID = ""
			} else if hc.RootID == "" {
				// node reads "" as unlisted; say so on purpose instead.
				return cli.BadValue(fs, "index", "must not be empty (use --unlisted to not register the room)")
			}
			// A copy: typedZero must not change what the flags show.
			cfg := hc
			c, err := cf.treeCommon(fs, drainTimeout, &cfg.ChildLimits)
			if err != nil {
				return err
			}
			cfg.Common = c
			return cf.runTree(cmd, &cfg.Common, cfg.Validate, func(ctx context.Context) (*node.Node, error) {
				return node.StartHost(ctx, cfg)
			})
		},
	}
	f := cmd.Flags()
	cf.registerID(f)
	f.StringVar(&hc.Name, "name", node.DefaultName(), "host display name")
	f.StringVar(&hc.Title, "title", "p2plive-node test stream", "room title shown in the index")
	f.StringVar(&hc.Summary, "summary", "", "room summary shown in the index")
	f.StringVar(&hc.RootID, "index", node.DefaultRootIDs[0], "index root id to register the room with")
	f.BoolVar(&unlisted, "unlisted", false, "do not register with an index root")
	f.BoolVar(&hc.NoStreamNotice, "no-stream-notice", false, "do not send the generation-C stream-start notice [4, id] (generation A/B audiences show a 'not live' alert on it)")
	bindChildLimits(f, &hc.ChildLimits)
	bindDrainTimeout(f, &drainTimeout)
	return cmd
}

package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/p2plive/p2plive-node/internal/cli"
	"github.com/p2plive/p2plive-node/node"
	"github.com/p2plive/p2plive-node/signaling"
)

func newHostCmd(cf *commonFlags) *cobra.Command {
	var (
		hc       node.HostConfig
		relay    relayFlags
		unlisted bool
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
			} else if !signaling.ValidID(hc.RootID) {
				return cli.UsageError{Err: fmt.Errorf("%s %q: %w", cli.FlagLabel(fs, "index"), hc.RootID, signaling.ErrInvalidID)}
			}
			if err := relay.validate(fs); err != nil {
				return err
			}
			cfg, err := cf.nodeConfig(fs)
			if err != nil {
				return err
			}
			defer cfg.Logger.Sync() //nolint:errcheck // stderr sync errors are meaningless
			// The host serves its children with the relay's rate limits
			// and report bounds (cfg.Relay); MaxChildren lives in both.
			relay.apply(&cfg.Relay)
			hc.MaxChildren = relay.maxChildren
			cfg.Host = hc
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			h, err := node.StartHost(ctx, cfg)
			if err != nil {
				return err
			}
			dbg, err := startDebug(cf.debugAddr, h.Stats, cfg.Logger)
			if err != nil {
				cancel()
				_ = h.Wait()
				return err
			}
			defer dbg.close()
			defer startMemReturn(cfg.Logger)()
			return h.Wait()
		},
	}
	f := cmd.Flags()
	f.StringVar(&cf.id, "id", "", "peer id to claim (default: assigned by the server, like the browser)")
	f.StringVar(&hc.Name, "name", node.DefaultName(), "host display name")
	f.StringVar(&hc.Title, "title", "p2plive-node test stream", "room title shown in the index")
	f.StringVar(&hc.Summary, "summary", "", "room summary shown in the index")
	f.StringVar(&hc.RootID, "index", node.DefaultRootIDs[0], "index root id to register the room with")
	f.BoolVar(&unlisted, "unlisted", false, "do not register with an index root")
	f.BoolVar(&hc.NoStreamNotice, "no-stream-notice", false, "do not send the generation-C stream-start notice [4, id] (generation A/B audiences show a 'not live' alert on it)")
	relay.register(f)
	return cmd
}

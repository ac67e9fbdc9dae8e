package main

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/p2plive/p2plive-node/internal/cli"
	"github.com/p2plive/p2plive-node/node"
	"github.com/p2plive/p2plive-node/tree"
)

func newJoinCmd(cf *commonFlags) *cobra.Command {
	var (
		jc           node.JoinConfig
		greeting     string
		drainTimeout time.Duration
		asRoot       bool
		rf           rootFlags
	)
	cmd := &cobra.Command{
		Use:   "join --parent <id>",
		Short: "Join a tree under a parent peer and relay it",
		Long: `join registers with the PeerServer, connects to the parent, and relays the
P2P-Live-web tree protocol: it greets and records children, reports its
subtree up, floods chat once in each direction, and passes room maps down.
"join --root" is the same as the root command.`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fs := cmd.Flags()
			if asRoot {
				if jc.Parent != "" {
					return cli.UsageError{Err: errors.New("join: --root and --parent exclude each other")}
				}
				if cf.id != "" {
					rf.cfg.IDs = append(rf.cfg.IDs, cf.id)
				}
				return runRoot(cmd, cf, rf)
			}
			switch greeting {
			case "ab":
				jc.Greeting = tree.GreetAB
			case "c":
				jc.Greeting = tree.GreetC
			default:
				return cli.BadValue(fs, "greeting", "want ab or c")
			}
			// A copy: typedZero must not change what the flags show.
			cfg := jc
			c, err := cf.treeCommon(fs, drainTimeout, &cfg.ChildLimits)
			if err != nil {
				return err
			}
			cfg.Common = c
			return cf.runTree(cmd, &cfg.Common, cfg.Validate, func(ctx context.Context) (*node.Node, error) {
				return node.StartJoin(ctx, cfg)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&jc.Parent, "parent", "", "peer id of the parent to join under")
	cf.registerID(f)
	f.StringVar(&jc.Name, "name", node.DefaultName(), "display name shown in the room's tree")
	bindChildLimits(f, &jc.ChildLimits)
	f.StringVar(&greeting, "greeting", "ab", `how the greeting marks the room map provisional: "ab" (members = -1, read as a map by every page generation) or "c" (mark = -1, as generation C relays do)`)
	f.BoolVar(&asRoot, "root", false, "stand as the index root instead (same as the root command)")
	bindDrainTimeout(f, &drainTimeout)
	f.DurationVar(&jc.MediaTimeout, "media-timeout", node.DefaultMediaTimeout, "upstream media silent this long (while its call is up) means a lost parent; 0 disables the watchdog")
	rf.register(f, false)
	return cmd
}

package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/p2plive/p2plive-node/internal/cli"
	"github.com/p2plive/p2plive-node/signaling"
)

// newRootCmd builds the command tree; drain is the first stage of the
// signal handler (drainSignals), passed to every role's node.Common.
func newRootCmd(drain <-chan struct{}) *cobra.Command {
	cf := commonFlags{drain: drain}
	root := &cobra.Command{
		Use:   "p2plive-node",
		Short: "A headless relay node for P2P-Live-web live-streaming trees",
		Long: `p2plive-node joins a P2P-Live-web tree of PeerJS peers as an ordinary node
and relays it to more children than a browser can. Every flag can also be set
in the environment as P2PLIVE_<FLAG>, e.g. P2PLIVE_SERVER or P2PLIVE_LOG_LEVEL.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// The root runs nothing itself; being runnable lets unknownCommand
		// see a mistyped command and refuse it as bad input (exit 2).
		Args: unknownCommand,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cli.UsageError{Err: err} })
	cf.register(root.PersistentFlags())
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return cli.ApplyEnv(cmd.Flags()) }
	root.AddCommand(newJoinCmd(&cf), newRootIndexCmd(&cf), newHostCmd(&cf), newVersionCmd())
	return root
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

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cli.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			v := "(devel)"
			if bi, ok := debug.ReadBuildInfo(); ok {
				v = bi.Main.Version
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						v += " " + s.Value
					}
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "p2plive-node %s (peerjs wire %s)\n", v, signaling.ClientVersion)
		},
	}
}

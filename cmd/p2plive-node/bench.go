package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/p2plive/p2plive-node/internal/bench"
	"github.com/p2plive/p2plive-node/internal/rig"
)

func newBenchCmd(cf *commonFlags) *cobra.Command {
	var (
		cfg      bench.Config
		relayBin string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the relay against a browser relay and print one table (run it with scripts/bench)",
		Long: `bench measures what a relay costs per child, on this machine, over loopback:
a Go source → relay → N Go children, with the relay (p2plive-node join, or
headless Chromium relaying as the P2P-Live-web pages do) in a process of its
own. It prints one table: relay CPU per forwarded packet and in total, memory
per child, loss, one-hop latency, a late child's first frame, and children per
CPU-second of the Go relay against the browser's.

It starts its own PeerServer (npm "peer" from node_modules) and serves
testdata/web, so run it from the repository; scripts/bench builds it and runs
it in a loopback-only network namespace. --server, --key and --ice are not
used; the relay logs at warn. --log-level, if given, is the level of the
benchmark's own nodes (default error).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateBench(cmd.Flags(), &cfg); err != nil {
				return err
			}
			if relayBin == "" && given(cmd.Flags(), "relay-bin") {
				return badValue(cmd.Flags(), "relay-bin", "must not be empty (leave it out to run this binary)")
			}
			if relayBin == "" {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("bench: %w", err)
				}
				relayBin = exe
			}
			cfg.RelayCommand = []string{relayBin}
			cfg.Progress = cmd.ErrOrStderr()
			level := "error"
			if cmd.Flags().Changed("log-level") {
				level = cf.logLevel
			}
			log, err := newLogger(cmd.Flags(), level, "console")
			if err != nil {
				return err
			}
			cfg.Logger = log
			if cfg.CPUProfileDir != "" {
				if err := os.MkdirAll(cfg.CPUProfileDir, 0o755); err != nil {
					return fmt.Errorf("bench: %w", err)
				}
			}
			rep, err := bench.Run(cmd.Context(), cfg)
			var me *rig.MissingError
			if errors.As(err, &me) {
				return fmt.Errorf("%w (run scripts/bench, which installs it)", err)
			}
			if rep != nil && (len(rep.Rows) > 0 || len(rep.Heal) > 0) {
				if werr := rep.WriteTable(cmd.OutOrStdout(), "p2plive-node "+strings.Join(os.Args[1:], " ")); werr != nil && err == nil {
					err = werr
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&cfg.Parts, "parts", bench.AllParts, "parts to run: direct (children on the source), synthetic (Go relay, --n), clip and browser (Go and Chromium relay on the real clip, --browser-n), heal (gap at a grandchild when its grandparent relay crashes or leaves, --heal-runs)")
	f.IntVar(&cfg.HealRuns, "heal-runs", 5, "runs of each heal case (the median is printed)")
	f.IntSliceVar(&cfg.N, "n", []int{1, 10, 50, 100, 200}, "children of the Go relay on the synthetic stream")
	f.IntSliceVar(&cfg.BrowserN, "browser-n", []int{1, 2, 4, 8}, "children of each relay on the real clip")
	f.DurationVar(&cfg.Window, "window", 10*time.Second, "measurement window of each row")
	f.DurationVar(&cfg.Settle, "settle", 2*time.Second, "pause after the children joined, before the window")
	f.IntVar(&cfg.JoinParallel, "join-parallel", 8, "children joining at once")
	f.IntVar(&cfg.VideoBitrate, "video-bitrate", 2_500_000, "video bit/s of the synthetic stream")
	f.BoolVar(&cfg.Burst, "burst", false, "send each frame of the synthetic stream in one burst (default: paced at 2.5x the bitrate, as Chrome does)")
	f.StringVar(&cfg.CPUProfileDir, "relay-cpuprofile", "", "directory for a CPU profile of each Go relay (relay-<source>-<N>.prof)")
	f.StringVar(&relayBin, "relay-bin", "", "p2plive-node binary to run as the Go relay (default: this one)")
	return cmd
}

// Upper bounds of internal/bench (Config.defaults), repeated so that a
// value over them is refused as bad input (exit 2) here, before the
// benchmark starts, rather than as a failed run (exit 1).
const (
	benchMaxChildren     = 1000
	benchMaxWindow       = 2 * time.Minute
	benchMaxHealRuns     = 50
	benchMaxVideoBitrate = 20_000_000
)

// validateBench refuses what bench.Config would quietly replace by its
// default (a zero or negative count or duration) or reject only as a
// failed run (an unknown part, a value over its bounds).
func validateBench(fs *pflag.FlagSet, cfg *bench.Config) error {
	if len(cfg.Parts) == 0 {
		return usageError{fmt.Errorf("%s: empty list (want some of %s)", flagLabel(fs, "parts"), strings.Join(bench.AllParts, ","))}
	}
	for _, p := range cfg.Parts {
		if !slices.Contains(bench.AllParts, p) {
			return usageError{fmt.Errorf("%s: unknown part %q (want some of %s)", flagLabel(fs, "parts"), p, strings.Join(bench.AllParts, ","))}
		}
	}
	for _, l := range []struct {
		name string
		ns   []int
	}{{"n", cfg.N}, {"browser-n", cfg.BrowserN}} {
		if len(l.ns) == 0 {
			return usageError{fmt.Errorf("%s: empty list", flagLabel(fs, l.name))}
		}
		for _, n := range l.ns {
			if n < 1 || n > benchMaxChildren {
				return usageError{fmt.Errorf("%s: %d children: want 1 to %d", flagLabel(fs, l.name), n, benchMaxChildren)}
			}
		}
	}
	if cfg.HealRuns < 1 || cfg.HealRuns > benchMaxHealRuns {
		return badValue(fs, "heal-runs", fmt.Sprintf("want 1 to %d", benchMaxHealRuns))
	}
	if cfg.Window <= 0 || cfg.Window > benchMaxWindow {
		return badValue(fs, "window", fmt.Sprintf("want a positive duration up to %v", benchMaxWindow))
	}
	if err := firstErr(
		positiveDuration(fs, "settle", cfg.Settle),
		atLeast(fs, "join-parallel", cfg.JoinParallel, 1),
	); err != nil {
		return err
	}
	if cfg.VideoBitrate < 1 || cfg.VideoBitrate > benchMaxVideoBitrate {
		return badValue(fs, "video-bitrate", fmt.Sprintf("want 1 to %d bit/s", benchMaxVideoBitrate))
	}
	return nil
}

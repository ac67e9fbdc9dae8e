package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/p2plive/p2plive-node/internal/bench"
	"github.com/p2plive/p2plive-node/internal/cli"
	"github.com/p2plive/p2plive-node/internal/rig"
)

func newBenchCmd() *cobra.Command {
	var (
		cfg      bench.Config
		relayBin string
		logLevel string
	)
	cmd := &cobra.Command{
		Use:   "p2plive-bench",
		Short: "Measure the relay against a browser relay and print one table (run it with scripts/bench)",
		Long: `p2plive-bench measures what a relay costs per child, on this machine, over
loopback: a Go source → relay → N Go children, with the relay (p2plive-node
join, or headless Chromium relaying as the P2P-Live-web pages do) in a process
of its own. It prints one table: relay CPU per forwarded packet and in total,
memory per child, loss, one-hop latency, a late child's first frame, and
children per CPU-second of the Go relay against the browser's.

It starts its own PeerServer (npm "peer" from node_modules) and serves
testdata/web, so run it from the repository; scripts/bench builds it and
p2plive-node side by side and runs it in a loopback-only network namespace.
The Go relay is the p2plive-node next to this binary unless --relay-bin names
another; it logs at warn. Every flag can also be set as P2PLIVE_<FLAG>.`,
		Args:          cli.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		PreRunE:       func(cmd *cobra.Command, _ []string) error { return cli.ApplyEnv(cmd.Flags()) },
		RunE: func(cmd *cobra.Command, _ []string) error {
			fs := cmd.Flags()
			if err := validateBench(fs, &cfg); err != nil {
				return err
			}
			if relayBin == "" && cli.Given(fs, "relay-bin") {
				return cli.BadValue(fs, "relay-bin", "must not be empty (leave it out for the p2plive-node next to this binary)")
			}
			log, err := newLogger(fs, logLevel)
			if err != nil {
				return err
			}
			if cfg.NeedsRelay() {
				if relayBin == "" {
					if relayBin, err = siblingRelay(); err != nil {
						return cli.UsageError{Err: err}
					}
				}
				cfg.RelayCommand = []string{relayBin}
			}
			cfg.Progress = cmd.ErrOrStderr()
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
				if werr := rep.WriteTable(cmd.OutOrStdout(), "p2plive-bench "+strings.Join(os.Args[1:], " ")); werr != nil && err == nil {
					err = werr
				}
			}
			return err
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cli.UsageError{Err: err} })
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
	f.StringVar(&cfg.CPUProfileDir, "relay-cpuprofile", "", "directory for a CPU profile of each Go relay over its row's window (relay-<source>-<N>.prof), read from the relay's --debug-addr")
	f.StringVar(&relayBin, "relay-bin", "", "p2plive-node binary to run as the Go relay (default: p2plive-node next to this binary)")
	f.StringVar(&logLevel, "log-level", "error", "log level of the benchmark's own nodes (source and children): debug, info, warn or error")
	return cmd
}

// siblingRelay is the p2plive-node beside this binary, where scripts/bench
// builds it. No search of PATH: an installed, older relay would be
// measured without a word.
func siblingRelay() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("--relay-bin: %w", err)
	}
	p := filepath.Join(filepath.Dir(exe), "p2plive-node")
	if fi, err := os.Stat(p); err != nil || fi.IsDir() {
		return "", fmt.Errorf("--relay-bin: no p2plive-node next to %s: build it there (scripts/bench does) or give --relay-bin", exe)
	}
	return p, nil
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
		return cli.UsageError{Err: fmt.Errorf("%s: empty list (want some of %s)", cli.FlagLabel(fs, "parts"), strings.Join(bench.AllParts, ","))}
	}
	for _, p := range cfg.Parts {
		if !slices.Contains(bench.AllParts, p) {
			return cli.UsageError{Err: fmt.Errorf("%s: unknown part %q (want some of %s)", cli.FlagLabel(fs, "parts"), p, strings.Join(bench.AllParts, ","))}
		}
	}
	for _, l := range []struct {
		name string
		ns   []int
	}{{"n", cfg.N}, {"browser-n", cfg.BrowserN}} {
		if len(l.ns) == 0 {
			return cli.UsageError{Err: fmt.Errorf("%s: empty list", cli.FlagLabel(fs, l.name))}
		}
		for _, n := range l.ns {
			if n < 1 || n > benchMaxChildren {
				return cli.UsageError{Err: fmt.Errorf("%s: %d children: want 1 to %d", cli.FlagLabel(fs, l.name), n, benchMaxChildren)}
			}
		}
	}
	switch {
	case cfg.HealRuns < 1 || cfg.HealRuns > benchMaxHealRuns:
		return cli.BadValue(fs, "heal-runs", fmt.Sprintf("want 1 to %d", benchMaxHealRuns))
	case cfg.Window <= 0 || cfg.Window > benchMaxWindow:
		return cli.BadValue(fs, "window", fmt.Sprintf("want a positive duration up to %v", benchMaxWindow))
	case cfg.Settle <= 0:
		return cli.BadValue(fs, "settle", "must be a positive duration, like 2s")
	case cfg.JoinParallel < 1:
		return cli.BadValue(fs, "join-parallel", "must be at least 1")
	case cfg.VideoBitrate < 1 || cfg.VideoBitrate > benchMaxVideoBitrate:
		return cli.BadValue(fs, "video-bitrate", fmt.Sprintf("want 1 to %d bit/s", benchMaxVideoBitrate))
	}
	return nil
}

// newLogger is the console logger of the benchmark's own nodes.
func newLogger(fs *pflag.FlagSet, level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, cli.UsageError{Err: fmt.Errorf("%s: %w", cli.FlagLabel(fs, "log-level"), err)}
	}
	zc := zap.NewDevelopmentConfig()
	zc.Development = false
	zc.DisableStacktrace = true
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.OutputPaths = []string{"stderr"}
	return zc.Build()
}

package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/pion/webrtc/v4"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/p2plive/p2plive-node/internal/cli"
	"github.com/p2plive/p2plive-node/node"
	"github.com/p2plive/p2plive-node/peerjs"
	"github.com/p2plive/p2plive-node/signaling"
	"github.com/p2plive/p2plive-node/tree"
)

// commonFlags are the flags every networked command shares.
type commonFlags struct {
	server     string
	key        string
	id         string
	ice        []string
	logLevel   string
	logFormat  string
	maxMessage int
	// maxPending, maxConnsPerPeer and maxConns bound what peers can make
	// the node hold (issue 9); see node.Config.
	maxPending      int
	maxConnsPerPeer int
	maxConns        int
	debugAddr       string
}

// newRootCmd builds the command tree.
func newRootCmd() *cobra.Command {
	var cf commonFlags
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
	pf := root.PersistentFlags()
	pf.StringVar(&cf.server, "server", signaling.DefaultServerURL, "PeerServer URL (scheme, host, port, path), like the PeerJS client options")
	pf.StringVar(&cf.key, "key", signaling.DefaultKey, "PeerServer API key")
	pf.StringSliceVar(&cf.ice, "ice", defaultICE(), `ICE server URLs; TURN credentials as turn:user:pass@host:port; "none" for host candidates only`)
	pf.StringVar(&cf.logLevel, "log-level", "info", "debug, info, warn or error")
	pf.StringVar(&cf.logFormat, "log-format", "auto", "console, json, or auto (console on a terminal, json otherwise)")
	pf.IntVar(&cf.maxMessage, "max-message-size", node.DefaultMaxMessageSize,
		fmt.Sprintf("largest message accepted from a peer, in bytes (%d to %d)", node.MinMaxMessageSize, node.MaxMaxMessageSize))
	pf.IntVar(&cf.maxPending, "max-pending-bytes", node.DefaultMaxPendingBytes,
		"bytes held in unfinished chunked messages across all connections; at least 2 × --max-message-size (raised to that when not given)")
	pf.IntVar(&cf.maxConnsPerPeer, "max-conns-per-peer", node.DefaultMaxConnsPerPeer, "data connections one peer id may hold open or opening at once (≥ 1)")
	pf.IntVar(&cf.maxConns, "max-conns", node.DefaultMaxConns, "incoming data connections, open or opening, in all (≥ 1)")

	// A CPU profile of a running node: /debug/pprof/profile here
	// (p2plive-bench --relay-cpuprofile reads it).
	pf.StringVar(&cf.debugAddr, "debug-addr", "", "serve Go pprof and /debug/stats (JSON counters) on this address, e.g. 127.0.0.1:6060 (diagnostics; keep it on loopback)")

	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return cli.ApplyEnv(cmd.Flags()) }
	root.AddCommand(newJoinCmd(&cf), newRootIndexCmd(&cf), newHostCmd(&cf), newVersionCmd())
	return root
}

// nodeConfig validates the common flags into a node.Config. Every check
// runs before anything connects, so bad input costs no network traffic and
// always ends the same way: one line, exit 2.
func (cf *commonFlags) nodeConfig(fs *pflag.FlagSet) (node.Config, error) {
	var cfg node.Config
	if cf.key == "" {
		// ParseServer would quietly use "peerjs"; an empty key given on
		// purpose is more likely a broken deployment template.
		return cfg, cli.BadValue(fs, "key", "must not be empty (leave it out for the default, "+signaling.DefaultKey+")")
	}
	srv, err := signaling.ParseServer(cf.server, cf.key)
	if err != nil {
		return cfg, cli.UsageError{Err: fmt.Errorf("%s: %w", cli.FlagLabel(fs, "server"), err)}
	}
	if cf.id != "" && !signaling.ValidID(cf.id) {
		return cfg, cli.UsageError{Err: fmt.Errorf("%s %q: %w (letters and digits, single spaces, _ or - between them)", cli.FlagLabel(fs, "id"), cf.id, signaling.ErrInvalidID)}
	}
	ice, err := parseICE(cf.ice)
	if err != nil {
		return cfg, cli.UsageError{Err: fmt.Errorf("%s: %w", cli.FlagLabel(fs, "ice"), err)}
	}
	if cf.maxMessage < node.MinMaxMessageSize || cf.maxMessage > node.MaxMaxMessageSize {
		return cfg, cli.BadValue(fs, "max-message-size", fmt.Sprintf("want %d (64 KiB) to %d (64 MiB)", node.MinMaxMessageSize, node.MaxMaxMessageSize))
	}
	// Two messages of the largest size must fit in the pending bytes, or
	// one peer's chunked message could starve every other connection.
	pending := max(cf.maxPending, 2*cf.maxMessage)
	if cli.Given(fs, "max-pending-bytes") {
		if cf.maxPending < 2*cf.maxMessage {
			return cfg, cli.BadValue(fs, "max-pending-bytes", fmt.Sprintf("must be at least 2 × --max-message-size = %d", 2*cf.maxMessage))
		}
		pending = cf.maxPending
	}
	if err := firstErr(
		atLeast(fs, "max-conns-per-peer", cf.maxConnsPerPeer, 1),
		atLeast(fs, "max-conns", cf.maxConns, 1),
	); err != nil {
		return cfg, err
	}
	if cf.debugAddr != "" {
		if _, _, err := net.SplitHostPort(cf.debugAddr); err != nil {
			return cfg, cli.UsageError{Err: fmt.Errorf("%s %q: %w", cli.FlagLabel(fs, "debug-addr"), cf.debugAddr, err)}
		}
	}
	log, err := newLogger(fs, cf.logLevel, cf.logFormat)
	if err != nil {
		return cfg, err
	}
	cfg = node.Config{Server: srv, ID: cf.id, ICEServers: ice, Logger: log, Ready: notifyReady(log), MaxMessageSize: cf.maxMessage,
		MaxPendingBytes: pending, MaxConnsPerPeer: cf.maxConnsPerPeer, MaxConns: cf.maxConns}
	return cfg, nil
}

// notifyReady tells systemd (Type=notify) that the node is serving; a no-op elsewhere.
func notifyReady(log *zap.Logger) func() {
	return func() {
		if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
			log.Warn("sd_notify failed", zap.Error(err))
		}
	}
}

func defaultICE() []string {
	var out []string
	for _, s := range peerjs.DefaultICEServers() {
		for _, u := range s.URLs {
			if s.Username != "" {
				scheme, rest, _ := strings.Cut(u, ":")
				u = scheme + ":" + s.Username + ":" + s.Credential.(string) + "@" + rest
			}
			out = append(out, u)
		}
	}
	return out
}

// parseICE reads --ice. stun:/turn:/turns: URLs, with TURN credentials
// written user:pass@ after the scheme. An empty list is refused: it would
// silently mean host candidates only, which "none" says on purpose.
func parseICE(urls []string) ([]webrtc.ICEServer, error) {
	if len(urls) == 0 {
		return nil, errors.New(`empty list (give "none" for host candidates only)`)
	}
	if len(urls) == 1 && urls[0] == "none" {
		return []webrtc.ICEServer{}, nil
	}
	out := []webrtc.ICEServer{}
	for _, u := range urls {
		if u == "" {
			return nil, errors.New("empty element in the list")
		}
		if u == "none" {
			return nil, errors.New(`"none" must be the only entry`)
		}
		scheme, rest, ok := strings.Cut(u, ":")
		if !ok || rest == "" {
			return nil, fmt.Errorf("%q: want stun:host:port or turn:user:pass@host:port", u)
		}
		switch scheme {
		case "stun", "stuns":
			out = append(out, webrtc.ICEServer{URLs: []string{u}})
		case "turn", "turns":
			// A TURN server without credentials refuses every allocation,
			// so such an entry could only fail later, quietly.
			cred, host, ok := strings.Cut(rest, "@")
			if !ok {
				return nil, fmt.Errorf("%q: TURN needs credentials: %s:user:pass@host:port", u, scheme)
			}
			user, pass, ok := strings.Cut(cred, ":")
			if !ok || user == "" || pass == "" {
				return nil, fmt.Errorf("%q: credentials must be user:pass@, both not empty", u)
			}
			if host == "" {
				return nil, fmt.Errorf("%q: no host after the credentials", u)
			}
			out = append(out, webrtc.ICEServer{URLs: []string{scheme + ":" + host}, Username: user, Credential: pass})
		default:
			return nil, fmt.Errorf("%q: unknown scheme %q", u, scheme)
		}
	}
	return out, nil
}

// newLogger builds the logger of --log-level and --log-format; fs names
// the flags (or their variables) in errors.
func newLogger(fs *pflag.FlagSet, level, format string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, cli.UsageError{Err: fmt.Errorf("%s: %w", cli.FlagLabel(fs, "log-level"), err)}
	}
	switch format {
	case "auto":
		format = "json"
		if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			format = "console"
		}
	case "console", "json":
	default:
		return nil, cli.BadValue(fs, "log-format", "want console, json or auto")
	}
	var zc zap.Config
	if format == "console" {
		zc = zap.NewDevelopmentConfig()
		zc.Development = false
		zc.DisableStacktrace = true
		zc.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
	} else {
		zc = zap.NewProductionConfig()
		zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	}
	// Sampling keeps a flood of identical warnings (a peer sending garbage)
	// from drowning the log; counters keep the exact numbers.
	zc.Sampling = &zap.SamplingConfig{Initial: 20, Thereafter: 100}
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.OutputPaths = []string{"stderr"}
	return zc.Build()
}

func newJoinCmd(cf *commonFlags) *cobra.Command {
	var (
		parent       string
		asRoot       bool
		rc           node.RelayConfig
		relay        relayFlags
		greeting     string
		rf           rootFlags
		drainTimeout time.Duration
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
				if parent != "" {
					return cli.UsageError{Err: errors.New("join: --root and --parent exclude each other")}
				}
				if cf.id != "" {
					rf.ids = append(rf.ids, cf.id)
				}
				return runRoot(cmd, cf, rf)
			}
			if parent == "" {
				return cli.UsageError{Err: fmt.Errorf("join: --parent is required")}
			}
			if !signaling.ValidID(parent) {
				return cli.UsageError{Err: fmt.Errorf("%s %q: %w", cli.FlagLabel(fs, "parent"), parent, signaling.ErrInvalidID)}
			}
			switch greeting {
			case "ab":
				rc.Greeting = tree.GreetAB
			case "c":
				rc.Greeting = tree.GreetC
			default:
				return cli.BadValue(fs, "greeting", "want ab or c")
			}
			var mediaTimeout error
			if rc.MediaTimeout < 0 {
				mediaTimeout = cli.BadValue(fs, "media-timeout", "must not be negative (0 disables the watchdog)")
			}
			if err := firstErr(
				relay.validate(fs),
				// 0 would mean the default drain in node, not "exit at
				// once": a second signal is the way to that.
				positiveDuration(fs, "drain-timeout", drainTimeout),
				mediaTimeout,
			); err != nil {
				return err
			}
			relay.apply(&rc)
			cfg, err := cf.nodeConfig(fs)
			if err != nil {
				return err
			}
			defer cfg.Logger.Sync() //nolint:errcheck // stderr sync errors are meaningless
			cfg.Parent = parent
			cfg.Relay = rc
			cfg.DrainTimeout = drainTimeout
			ctx, drain, stop := drainSignals()
			defer stop()
			cfg.Drain = drain
			j, err := node.StartJoin(ctx, cfg)
			if err != nil {
				return err
			}
			dbg, err := startDebug(cf.debugAddr, j.Stats, cfg.Logger)
			if err != nil {
				stop()
				_ = j.Wait()
				return err
			}
			defer dbg.close()
			defer startMemReturn(cfg.Logger)()
			return j.Wait()
		},
	}
	f := cmd.Flags()
	f.StringVar(&parent, "parent", "", "peer id of the parent to join under")
	f.StringVar(&cf.id, "id", "", "peer id to claim (default: assigned by the server, like the browser)")
	f.StringVar(&rc.Name, "name", node.DefaultName(), "display name shown in the room's tree")
	relay.register(f)
	f.StringVar(&greeting, "greeting", "ab", `how the greeting marks the room map provisional: "ab" (members = -1, read as a map by every page generation) or "c" (mark = -1, as generation C relays do)`)
	f.BoolVar(&asRoot, "root", false, "stand as the index root instead (same as the root command)")
	f.DurationVar(&drainTimeout, "drain-timeout", node.DefaultDrainTimeout, "on SIGTERM/SIGINT, how long to wait for children to move before exiting (a second signal exits at once)")
	f.DurationVar(&rc.MediaTimeout, "media-timeout", node.DefaultMediaTimeout, "upstream media silent this long (while its call is up) means a lost parent; 0 disables the watchdog")
	rf.register(f, false)
	return cmd
}

// rootFlags are the flags of the index root.
type rootFlags struct {
	ids         []string
	wait        bool
	roomTimeout time.Duration
	maxClients  int
}

func (rf *rootFlags) register(f *pflag.FlagSet, withID bool) {
	if withID {
		f.StringArrayVar(&rf.ids, "id", nil, "index id to claim; repeat to serve several page generations (default "+strings.Join(node.DefaultRootIDs, ",")+")")
	}
	f.BoolVar(&rf.wait, "wait", false, "keep retrying while the id is taken instead of failing")
	f.DurationVar(&rf.roomTimeout, "room-timeout", 10*time.Second, "drop a room whose host has been unreachable this long")
	f.IntVar(&rf.maxClients, "max-clients", node.DefaultMaxIndexClients, "connections (hosts and index pages) each index id accepts at once (≥ 1)")
}

// validate checks the root's flags; the ids may have come from join's
// --id, so their label is the same either way.
func (rf *rootFlags) validate(fs *pflag.FlagSet) error {
	if len(rf.ids) == 0 && cli.Given(fs, "id") {
		// An empty P2PLIVE_ID: like --id '', not a way to say "default".
		return cli.UsageError{Err: fmt.Errorf(`%s "": %w`, cli.FlagLabel(fs, "id"), signaling.ErrInvalidID)}
	}
	for _, id := range rf.ids {
		if !signaling.ValidID(id) {
			return cli.UsageError{Err: fmt.Errorf("%s %q: %w", cli.FlagLabel(fs, "id"), id, signaling.ErrInvalidID)}
		}
	}
	return firstErr(
		positiveDuration(fs, "room-timeout", rf.roomTimeout),
		atLeast(fs, "max-clients", rf.maxClients, 1),
	)
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

func runRoot(cmd *cobra.Command, cf *commonFlags, rf rootFlags) error {
	fs := cmd.Flags()
	if err := rf.validate(fs); err != nil {
		return err
	}
	cfg, err := cf.nodeConfig(fs)
	if err != nil {
		return err
	}
	defer cfg.Logger.Sync() //nolint:errcheck // stderr sync errors are meaningless
	cfg.ID = ""
	cfg.Root = node.RootConfig{IDs: rf.ids, Wait: rf.wait, RoomTimeout: rf.roomTimeout, MaxClients: rf.maxClients}
	dbg, err := startDebug(cf.debugAddr, nil, cfg.Logger)
	if err != nil {
		return err
	}
	defer dbg.close()
	defer startMemReturn(cfg.Logger)()
	return node.RunRoot(cmd.Context(), cfg)
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

package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/pion/webrtc/v4"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/p2plive/p2plive-node/node"
	"github.com/p2plive/p2plive-node/peerjs"
	"github.com/p2plive/p2plive-node/signaling"
	"github.com/p2plive/p2plive-node/tree"
)

// envPrefix: every flag --foo-bar can also be set as P2PLIVE_FOO_BAR.
const envPrefix = "P2PLIVE_"

// commonFlags are the flags every networked command shares.
type commonFlags struct {
	server     string
	key        string
	id         string
	ice        []string
	logLevel   string
	logFormat  string
	maxMessage int
	cpuProfile string
	profile    *os.File // the running --cpuprofile
	debugAddr  string
}

// newRootCmd builds the command tree; call the returned func when the
// command has ended (it writes the --cpuprofile).
func newRootCmd() (*cobra.Command, func()) {
	var cf commonFlags
	root := &cobra.Command{
		Use:   "p2plive-node",
		Short: "A headless relay node for P2P-Live-web live-streaming trees",
		Long: `p2plive-node joins a P2P-Live-web tree of PeerJS peers as an ordinary node
and relays it to more children than a browser can. Every flag can also be set
in the environment as P2PLIVE_<FLAG>, e.g. P2PLIVE_SERVER or P2PLIVE_LOG_LEVEL.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&cf.server, "server", signaling.DefaultServerURL, "PeerServer URL (scheme, host, port, path), like the PeerJS client options")
	pf.StringVar(&cf.key, "key", signaling.DefaultKey, "PeerServer API key")
	pf.StringSliceVar(&cf.ice, "ice", defaultICE(), `ICE server URLs; TURN credentials as turn:user:pass@host:port; "none" for host candidates only`)
	pf.StringVar(&cf.logLevel, "log-level", "info", "debug, info, warn or error")
	pf.StringVar(&cf.logFormat, "log-format", "auto", "console, json, or auto (console on a terminal, json otherwise)")
	pf.IntVar(&cf.maxMessage, "max-message-size", node.DefaultMaxMessageSize, "largest message accepted from a peer, in bytes")

	pf.StringVar(&cf.debugAddr, "debug-addr", "", "serve Go pprof and /debug/stats (JSON counters) on this address, e.g. 127.0.0.1:6060 (diagnostics; keep it on loopback)")

	// --cpuprofile is for profiling the relay (bench --relay-cpuprofile);
	// hidden, as it is no use in service.
	pf.StringVar(&cf.cpuProfile, "cpuprofile", "", "write a CPU profile to this file until the command ends")
	_ = pf.MarkHidden("cpuprofile")

	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := applyEnv(cmd.Flags()); err != nil {
			return err
		}
		return cf.startProfile()
	}
	root.AddCommand(newJoinCmd(&cf), newRootIndexCmd(&cf), newHostCmd(&cf), newBenchCmd(&cf), newVersionCmd())
	return root, cf.stopProfile
}

// startProfile starts the CPU profile of --cpuprofile, if set.
func (cf *commonFlags) startProfile() error {
	if cf.cpuProfile == "" {
		return nil
	}
	f, err := os.Create(cf.cpuProfile)
	if err != nil {
		return fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("--cpuprofile: %w", err)
	}
	cf.profile = f
	return nil
}

// stopProfile ends and writes the CPU profile, if one runs.
func (cf *commonFlags) stopProfile() {
	if cf.profile == nil {
		return
	}
	pprof.StopCPUProfile()
	if err := cf.profile.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "p2plive-node: --cpuprofile: %v\n", err)
	}
	cf.profile = nil
}

// applyEnv fills every flag not given on the command line from P2PLIVE_<FLAG>.
func applyEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		name := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v, ok := os.LookupEnv(name)
		if !ok {
			return
		}
		if sv, isSlice := f.Value.(pflag.SliceValue); isSlice {
			if e := sv.Replace(splitList(v)); e != nil {
				err = usageError{fmt.Errorf("%s: %w", name, e)}
			}
			return
		}
		if e := f.Value.Set(v); e != nil {
			err = usageError{fmt.Errorf("%s=%q: %w", name, v, e)}
		}
	})
	return err
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// nodeConfig validates the common flags into a node.Config.
func (cf *commonFlags) nodeConfig() (node.Config, error) {
	var cfg node.Config
	srv, err := signaling.ParseServer(cf.server, cf.key)
	if err != nil {
		return cfg, usageError{fmt.Errorf("--server: %w", err)}
	}
	if cf.id != "" && !signaling.ValidID(cf.id) {
		return cfg, usageError{fmt.Errorf("--id %q: %w (letters and digits, single spaces, _ or - between them)", cf.id, signaling.ErrInvalidID)}
	}
	ice, err := parseICE(cf.ice)
	if err != nil {
		return cfg, usageError{fmt.Errorf("--ice: %w", err)}
	}
	log, err := newLogger(cf.logLevel, cf.logFormat)
	if err != nil {
		return cfg, usageError{err}
	}
	if cf.maxMessage < 64<<10 {
		return cfg, usageError{fmt.Errorf("--max-message-size %d: at least 65536", cf.maxMessage)}
	}
	cfg = node.Config{Server: srv, ID: cf.id, ICEServers: ice, Logger: log, Ready: notifyReady(log), MaxMessageSize: cf.maxMessage}
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
// written user:pass@ after the scheme.
func parseICE(urls []string) ([]webrtc.ICEServer, error) {
	if len(urls) == 1 && urls[0] == "none" {
		return []webrtc.ICEServer{}, nil
	}
	out := []webrtc.ICEServer{}
	for _, u := range urls {
		scheme, rest, ok := strings.Cut(u, ":")
		if !ok || rest == "" {
			return nil, fmt.Errorf("%q: want stun:host:port or turn:user:pass@host:port", u)
		}
		switch scheme {
		case "stun", "stuns":
			out = append(out, webrtc.ICEServer{URLs: []string{u}})
		case "turn", "turns":
			s := webrtc.ICEServer{URLs: []string{u}}
			if cred, host, ok := strings.Cut(rest, "@"); ok {
				user, pass, ok := strings.Cut(cred, ":")
				if !ok {
					return nil, fmt.Errorf("%q: credentials must be user:pass@", u)
				}
				s = webrtc.ICEServer{URLs: []string{scheme + ":" + host}, Username: user, Credential: pass}
			}
			out = append(out, s)
		default:
			return nil, fmt.Errorf("%q: unknown scheme %q", u, scheme)
		}
	}
	return out, nil
}

func newLogger(level, format string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	switch format {
	case "auto":
		format = "json"
		if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			format = "console"
		}
	case "console", "json":
	default:
		return nil, fmt.Errorf("--log-format %q: want console, json or auto", format)
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
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asRoot {
				if parent != "" {
					return usageError{errors.New("join: --root and --parent exclude each other")}
				}
				if cf.id != "" {
					rf.ids = append(rf.ids, cf.id)
				}
				return runRoot(cmd, cf, rf)
			}
			if parent == "" {
				return usageError{fmt.Errorf("join: --parent is required")}
			}
			if !signaling.ValidID(parent) {
				return usageError{fmt.Errorf("--parent %q: %w", parent, signaling.ErrInvalidID)}
			}
			switch greeting {
			case "ab":
				rc.Greeting = tree.GreetAB
			case "c":
				rc.Greeting = tree.GreetC
			default:
				return usageError{fmt.Errorf("--greeting %q: want ab or c", greeting)}
			}
			if rc.MaxChildren < 0 || rc.RateLimit < 0 || rc.RateBurst < 0 {
				return usageError{errors.New("join: --max-children, --rate-limit and --rate-burst must not be negative")}
			}
			cfg, err := cf.nodeConfig()
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
			return j.Wait()
		},
	}
	f := cmd.Flags()
	f.StringVar(&parent, "parent", "", "peer id of the parent to join under")
	f.StringVar(&cf.id, "id", "", "peer id to claim (default: assigned by the server, like the browser)")
	f.StringVar(&rc.Name, "name", node.DefaultName(), "display name shown in the room's tree")
	f.IntVar(&rc.MaxChildren, "max-children", 0, "most children accepted; 0 means unlimited")
	f.Float64Var(&rc.RateLimit, "rate-limit", 50, "messages per second accepted from each child")
	f.IntVar(&rc.RateBurst, "rate-burst", 500, "messages a child may send at once above --rate-limit")
	f.StringVar(&greeting, "greeting", "ab", `how the greeting marks the room map provisional: "ab" (members = -1, read as a map by every page generation) or "c" (mark = -1, as generation C relays do)`)
	f.BoolVar(&asRoot, "root", false, "stand as the index root instead (same as the root command)")
	f.DurationVar(&drainTimeout, "drain-timeout", node.DefaultDrainTimeout, "on SIGTERM/SIGINT, how long to wait for children to move before exiting (a second signal exits at once)")
	f.DurationVar(&rc.MediaTimeout, "media-timeout", node.DefaultMediaTimeout, "upstream media silent this long (while its call is up) means a lost parent; 0 disables")
	rf.register(f, false)
	return cmd
}

// rootFlags are the flags of the index root.
type rootFlags struct {
	ids         []string
	wait        bool
	roomTimeout time.Duration
}

func (rf *rootFlags) register(f *pflag.FlagSet, withID bool) {
	if withID {
		f.StringArrayVar(&rf.ids, "id", nil, "index id to claim; repeat to serve several page generations (default "+strings.Join(node.DefaultRootIDs, ",")+")")
	}
	f.BoolVar(&rf.wait, "wait", false, "keep retrying while the id is taken instead of failing")
	f.DurationVar(&rf.roomTimeout, "room-timeout", 10*time.Second, "drop a room whose host has been unreachable this long")
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
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRoot(cmd, cf, rf) },
	}
	rf.register(cmd.Flags(), true)
	return cmd
}

func runRoot(cmd *cobra.Command, cf *commonFlags, rf rootFlags) error {
	for _, id := range rf.ids {
		if !signaling.ValidID(id) {
			return usageError{fmt.Errorf("--id %q: %w", id, signaling.ErrInvalidID)}
		}
	}
	if rf.roomTimeout <= 0 {
		return usageError{errors.New("--room-timeout must be positive")}
	}
	cfg, err := cf.nodeConfig()
	if err != nil {
		return err
	}
	defer cfg.Logger.Sync() //nolint:errcheck // stderr sync errors are meaningless
	cfg.ID = ""
	cfg.Root = node.RootConfig{IDs: rf.ids, Wait: rf.wait, RoomTimeout: rf.roomTimeout}
	dbg, err := startDebug(cf.debugAddr, nil, cfg.Logger)
	if err != nil {
		return err
	}
	defer dbg.close()
	return node.RunRoot(cmd.Context(), cfg)
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
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

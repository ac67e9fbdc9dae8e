package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/pion/webrtc/v4"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/p2plive/p2plive-node/node"
	"github.com/p2plive/p2plive-node/peerjs"
	"github.com/p2plive/p2plive-node/signaling"
)

// envPrefix: every flag --foo-bar can also be set as P2PLIVE_FOO_BAR.
const envPrefix = "P2PLIVE_"

// commonFlags are the flags every networked command shares.
type commonFlags struct {
	server    string
	key       string
	id        string
	ice       []string
	logLevel  string
	logFormat string
}

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
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&cf.server, "server", signaling.DefaultServerURL, "PeerServer URL (scheme, host, port, path), like the PeerJS client options")
	pf.StringVar(&cf.key, "key", signaling.DefaultKey, "PeerServer API key")
	pf.StringVar(&cf.id, "id", "", "peer id to claim (default: assigned by the server, like the browser)")
	pf.StringSliceVar(&cf.ice, "ice", defaultICE(), `ICE server URLs; TURN credentials as turn:user:pass@host:port; "none" for host candidates only`)
	pf.StringVar(&cf.logLevel, "log-level", "info", "debug, info, warn or error")
	pf.StringVar(&cf.logFormat, "log-format", "auto", "console, json, or auto (console on a terminal, json otherwise)")

	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		return applyEnv(cmd.Flags())
	}
	root.AddCommand(newJoinCmd(&cf), newVersionCmd())
	return root
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
	cfg = node.Config{Server: srv, ID: cf.id, ICEServers: ice, Logger: log, Ready: notifyReady(log)}
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
	var parent string
	cmd := &cobra.Command{
		Use:   "join --parent <id>",
		Short: "Join a tree under a parent peer",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := cf.nodeConfig()
			if err != nil {
				return err
			}
			defer cfg.Logger.Sync() //nolint:errcheck // stderr sync errors are meaningless
			if parent == "" {
				return usageError{fmt.Errorf("join: --parent is required")}
			}
			if !signaling.ValidID(parent) {
				return usageError{fmt.Errorf("--parent %q: %w", parent, signaling.ErrInvalidID)}
			}
			cfg.Parent = parent
			return node.RunJoin(cmd.Context(), cfg)
		},
	}
	cmd.Flags().StringVar(&parent, "parent", "", "peer id of the parent to join under")
	return cmd
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

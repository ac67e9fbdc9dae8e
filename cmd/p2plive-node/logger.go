package main

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/p2plive/p2plive-node/internal/cli"
)

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

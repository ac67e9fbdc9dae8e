package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The flag plumbing below follows cmd/p2plive-node/flags.go and root.go
// (the same environment overlay and one-line usage errors), cut down to
// what this command uses; the two commands share no package so that the
// daemon's configuration can change without the benchmark.

// envPrefix: every flag --foo-bar can also be set as P2PLIVE_FOO_BAR.
const envPrefix = "P2PLIVE_"

// fromEnv is the annotation applyEnv puts on a flag whose value it took
// from the environment; it holds the variable's name.
const fromEnv = "p2plive-bench/env"

// applyEnv fills every flag not given on the command line from
// P2PLIVE_<FLAG>; list values are comma-separated, empty elements kept
// (so that they are refused like the same list given as a flag).
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
		if f.Annotations == nil {
			f.Annotations = map[string][]string{}
		}
		f.Annotations[fromEnv] = []string{name}
		var e error
		if sv, isList := f.Value.(pflag.SliceValue); isList {
			var elems []string
			if strings.TrimSpace(v) != "" {
				elems = strings.Split(v, ",")
				for i := range elems {
					elems[i] = strings.TrimSpace(elems[i])
				}
			}
			e = sv.Replace(elems)
		} else {
			e = f.Value.Set(v)
		}
		if e != nil {
			err = usageError{fmt.Errorf("%s=%q (--%s): %w", name, v, f.Name, e)}
		}
	})
	return err
}

// flagLabel names a flag in an error: "--n", or "--n (from P2PLIVE_N)".
func flagLabel(fs *pflag.FlagSet, name string) string {
	if f := fs.Lookup(name); f != nil && len(f.Annotations[fromEnv]) > 0 {
		return "--" + name + " (from " + f.Annotations[fromEnv][0] + ")"
	}
	return "--" + name
}

// badValue is the one-line usage error for a flag's value: the flag, its
// value as given (a string quoted, so that an empty one shows), the problem.
func badValue(fs *pflag.FlagSet, name, problem string) error {
	val := fs.Lookup(name).Value
	shown := val.String()
	if val.Type() == "string" {
		shown = strconv.Quote(shown)
	}
	label := flagLabel(fs, name)
	if i := strings.Index(label, " (from "); i >= 0 {
		label = label[:i] + " " + shown + label[i:]
	} else {
		label += " " + shown
	}
	return usageError{fmt.Errorf("%s: %s", label, problem)}
}

// given reports whether the user set the flag, on the command line or in
// the environment.
func given(fs *pflag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	return f != nil && (f.Changed || len(f.Annotations[fromEnv]) > 0)
}

// noArgs refuses a positional argument as bad input (exit 2).
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s: unexpected argument %q (this command takes flags only)", cmd.Name(), args[0])}
	}
	return nil
}

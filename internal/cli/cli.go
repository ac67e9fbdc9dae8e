// Package cli is what the commands p2plive-node and p2plive-bench share
// about their command line: usage errors (exit 2), exit codes, main, and
// the P2PLIVE_<FLAG> environment overlay with the one-line messages that
// name a flag (and the variable it came from). It depends on cobra and
// pflag only, so that the daemon links nothing of the benchmark.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// UsageError marks errors in flags or arguments: exit 2.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// ExitCode is an exit status other than 1 for the errors that are (by
// errors.Is) Err.
type ExitCode struct {
	Err  error
	Code int
}

// Code is the exit status for a failed command: 2 for a UsageError, else
// the code of the first of codes that err is, else 1.
func Code(err error, codes ...ExitCode) int {
	var ue UsageError
	if errors.As(err, &ue) {
		return 2
	}
	for _, c := range codes {
		if errors.Is(err, c.Err) {
			return c.Code
		}
	}
	return 1
}

// Main runs cmd with a context that SIGINT and SIGTERM cancel (see
// MainContext).
func Main(name string, cmd *cobra.Command, codes ...ExitCode) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	MainContext(ctx, name, cmd, codes...)
}

// MainContext runs cmd with ctx, for a command that handles signals
// itself. An error is printed on stderr as "<name>: <error>" and ends the
// process with Code(err, codes...).
func MainContext(ctx context.Context, name string, cmd *cobra.Command, codes ...ExitCode) {
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	os.Exit(Code(err, codes...))
}

// EnvPrefix: every flag --foo-bar can also be set as P2PLIVE_FOO_BAR.
const EnvPrefix = "P2PLIVE_"

// envAnnotation marks a flag whose value ApplyEnv took from the
// environment, so that an error about the value can name the variable the
// user has to fix rather than a flag they never typed.
const envAnnotation = "p2plive/env"

// ApplyEnv fills every flag not given on the command line from
// P2PLIVE_<FLAG>; list values are comma-separated (see splitList). A bad
// value is a UsageError naming the variable and the flag.
func ApplyEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		name := EnvPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v, ok := os.LookupEnv(name)
		if !ok {
			return
		}
		if f.Annotations == nil {
			f.Annotations = map[string][]string{}
		}
		f.Annotations[envAnnotation] = []string{name}
		var e error
		if sv, isSlice := f.Value.(pflag.SliceValue); isSlice {
			e = sv.Replace(splitList(v))
		} else {
			e = f.Value.Set(v)
		}
		if e != nil {
			err = UsageError{Err: fmt.Errorf("%s=%q (--%s): %w", name, v, f.Name, e)}
		}
	})
	return err
}

// splitList splits a comma-separated environment value. Empty elements
// are kept, so that "a,,b" is refused like --ice a,,b rather than read as
// "a,b"; an empty value is an empty list, like an empty --ice argument.
func splitList(v string) []string {
	if strings.TrimSpace(v) == "" {
		return []string{}
	}
	out := strings.Split(v, ",")
	for i, s := range out {
		out[i] = strings.TrimSpace(s)
	}
	return out
}

// FlagLabel names a flag for an error message: "--max-children", or
// "--max-children (from P2PLIVE_MAX_CHILDREN)" when its value came from
// the environment.
func FlagLabel(fs *pflag.FlagSet, name string) string {
	label := "--" + name
	if f := fs.Lookup(name); f != nil {
		if env := f.Annotations[envAnnotation]; len(env) > 0 {
			label += " (from " + env[0] + ")"
		}
	}
	return label
}

// BadValue is the one-line usage error for a flag's value: the flag, the
// value as given (strings quoted, so that an empty one shows), and what is
// wrong with it.
func BadValue(fs *pflag.FlagSet, name, problem string) error {
	f := fs.Lookup(name)
	if f == nil { // a programming error; still say which flag
		return UsageError{Err: fmt.Errorf("--%s: %s", name, problem)}
	}
	val := f.Value.String()
	if f.Value.Type() == "string" {
		val = strconv.Quote(val)
	}
	label := "--" + name + " " + val
	if env := f.Annotations[envAnnotation]; len(env) > 0 {
		label += " (from " + env[0] + ")"
	}
	return UsageError{Err: fmt.Errorf("%s: %s", label, problem)}
}

// Given reports whether the user set the flag, on the command line or in
// the environment.
func Given(fs *pflag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	return f != nil && (f.Changed || len(f.Annotations[envAnnotation]) > 0)
}

// NoArgs is cobra.NoArgs as a usage error (exit 2): a stray positional
// argument is bad input like a bad flag, not a failure of the command.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return UsageError{Err: fmt.Errorf("%s: unexpected argument %q (this command takes flags only)", cmd.Name(), args[0])}
	}
	return nil
}

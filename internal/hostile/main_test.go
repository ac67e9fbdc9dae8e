package hostile

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/p2plive/p2plive-node/internal/rig"
	"github.com/p2plive/p2plive-node/internal/testrig"
)

// enabled: the hostile tests run only with P2PLIVE_HOSTILE=1.
var enabled = os.Getenv("P2PLIVE_HOSTILE") == "1"

var (
	binPath  string // the p2plive-node built by TestMain
	buildErr error  // why it could not be built
	// viewersPath is ./internal/hostile/viewers, built by TestMain (no race
	// detector: the soak's 50 viewers run there, not in the test process).
	viewersPath string
	joinHelp    string // `join --help`, to see which flags this build has
	hostHelp    string // `host --help`
)

func TestMain(m *testing.M) {
	code := 0
	func() {
		if enabled {
			dir, err := os.MkdirTemp("", "p2plive-hostile-")
			if err != nil {
				buildErr = err
			} else {
				defer os.RemoveAll(dir)
				build(dir)
			}
		}
		code = m.Run()
	}()
	os.Exit(code)
}

// build compiles ./cmd/p2plive-node once into dir.
func build(dir string) {
	root, err := rig.RepoRoot()
	if err != nil {
		buildErr = err
		return
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		buildErr = &rig.MissingError{What: "go toolchain", Err: err}
		return
	}
	binPath = filepath.Join(dir, "p2plive-node")
	cmd := exec.Command(goBin, "build", "-o", binPath, "./cmd/p2plive-node")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		buildErr = fmt.Errorf("go build ./cmd/p2plive-node: %v\n%s", err, out)
		return
	}
	viewersPath = filepath.Join(dir, "viewers")
	cmd = exec.Command(goBin, "build", "-o", viewersPath, "./internal/hostile/viewers")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		buildErr = fmt.Errorf("go build ./internal/hostile/viewers: %v\n%s", err, out)
		return
	}
	out, _ := exec.Command(binPath, "join", "--help").CombinedOutput()
	joinHelp = string(out)
	out, _ = exec.Command(binPath, "host", "--help").CombinedOutput()
	hostHelp = string(out)
}

// gate skips unless P2PLIVE_HOSTILE=1, and stops the test when the binary
// could not be built (a missing toolchain skips like a missing component;
// a build error fails).
func gate(t *testing.T) {
	t.Helper()
	if !enabled {
		t.Skip("hostile tests are long and run only with P2PLIVE_HOSTILE=1: P2PLIVE_HOSTILE=1 scripts/test -run TestHostile ./internal/hostile/")
	}
	if buildErr != nil {
		if me, ok := buildErr.(*rig.MissingError); ok {
			testrig.Require(t, me.What, me.Err)
		}
		t.Fatalf("hostile: %v", buildErr)
	}
}

// hasFlag reports whether this build's join (or host) command knows --name.
func hasFlag(help, name string) bool {
	return strings.Contains(help, "--"+name+" ") || strings.Contains(help, "--"+name+"=")
}

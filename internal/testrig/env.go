package testrig

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/p2plive/p2plive-node/internal/rig"
)

// Require stops the test when a component it needs is missing (err != nil).
// With CI=true the test fails loudly, since CI must run everything; else it
// is skipped with the reason.
func Require(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("testrig: %s is missing (CI=true, so this is a failure; run scripts/test): %v", what, err)
	}
	t.Skipf("testrig: %s is missing, skipping (run scripts/test to install it): %v", what, err)
}

// check stops the test on a start error from package rig: Require for a
// missing component, Fatalf for anything else.
func check(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var me *rig.MissingError
	if errors.As(err, &me) {
		Require(t, me.What, me.Err)
		return
	}
	t.Fatalf("testrig: %v", err)
}

// InNetns reports whether the tests run inside the private network
// namespace that scripts/test creates (P2PLIVE_TEST_NETNS=1).
func InNetns() bool {
	return os.Getenv("P2PLIVE_TEST_NETNS") == "1"
}

// RepoRoot returns the directory of go.mod above the test's working
// directory. It fails the test when there is none.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := rig.RepoRoot()
	if err != nil {
		t.Fatalf("testrig: %v", err)
	}
	return dir
}

// JSON returns v as a JSON literal, to put Go values into JavaScript
// expressions: p.Eval(t, "T.start("+testrig.JSON(cfg)+")", &id).
func JSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("testrig.JSON: %v", err))
	}
	return string(b)
}

package testrig

import (
	"os"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Logger is a zap logger writing to t.Log that goes quiet once the test's
// cleanup starts: pion finishes closing transports in goroutines after
// Close returns, and zaptest would panic on their last words. Level is Info,
// or Debug with P2PLIVE_TEST_DEBUG=1.
func Logger(t testing.TB) *zap.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.stop)
	lvl := zapcore.InfoLevel
	if os.Getenv("P2PLIVE_TEST_DEBUG") == "1" {
		lvl = zapcore.DebugLevel
	}
	enc := zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), lvl))
}

type testWriter struct {
	mu   sync.Mutex // guards done and serializes t.Log
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

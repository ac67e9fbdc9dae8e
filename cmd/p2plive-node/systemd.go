package main

import (
	"github.com/coreos/go-systemd/v22/daemon"
	"go.uber.org/zap"
)

// notifyReady tells systemd (Type=notify) that the node is serving; a
// no-op elsewhere (no NOTIFY_SOCKET).
func notifyReady(log *zap.Logger) func() {
	return func() {
		if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
			log.Warn("sd_notify failed", zap.Error(err))
		}
	}
}

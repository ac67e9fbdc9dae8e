package rig

import (
	"errors"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// Proc is a child process that leads its own process group and is killed
// (SIGKILL, by the kernel) when the goroutine's thread that started it dies,
// so that neither a crash nor a forgotten Kill leaves it running.
type Proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // cmd.Wait's result; valid once done is closed
}

// StartProc starts cmd in a new process group with Pdeathsig SIGKILL.
// cmd must not have been started; its SysProcAttr is set here.
func StartProc(cmd *exec.Cmd) (*Proc, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if cmd.WaitDelay == 0 {
		// Bounds Wait when a grandchild keeps our output pipes open.
		cmd.WaitDelay = 2 * time.Second
	}
	p := &Proc{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the thread that forked dies: keep this
		// goroutine on its thread for the life of the process.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// Pid is the process id (and process group id).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is how the process ended (cmd.Wait's error); it waits for the end.
func (p *Proc) Err() error {
	<-p.done
	return p.err
}

// Signal sends sig to the process (not its group).
func (p *Proc) Signal(sig syscall.Signal) error {
	return syscall.Kill(p.cmd.Process.Pid, sig)
}

// ErrNoExit: the process group did not go away after SIGKILL.
var ErrNoExit = errors.New("rig: process did not exit after SIGKILL")

// Stop sends SIGTERM to the process group, waits up to grace for the
// process to exit, then SIGKILLs the whole group (so that helpers it
// started go too) and waits up to 10 s more. grace 0 kills at once. Safe to
// call twice.
func (p *Proc) Stop(grace time.Duration) error {
	pid := p.cmd.Process.Pid
	if grace > 0 {
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
		}
	}
	// The negative pid is the process group (Setpgid).
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return ErrNoExit
	}
}

package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of utime/stime in /proc/PID/stat (USER_HZ). It is
// 100 on every Linux architecture Go supports; the kernel scales the
// values so that utime+stime is the task's precise run time, rounded to a
// tick.
const clockTick = 10 * time.Millisecond

// usage is what one relay costs: CPU time (user + system) and resident
// memory, summed over its process tree.
type usage struct {
	cpu   time.Duration
	rss   int64 // bytes
	procs int
}

// procCPU reads utime+stime of one process.
func procCPU(pid int) (time.Duration, int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) is in parentheses and may contain spaces:
	// the fields we want follow the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errors.New("bench: malformed /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return 0, 0, errors.New("bench: short /proc stat")
	}
	ppid, _ := strconv.Atoi(f[1])
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, errors.New("bench: bad utime/stime in /proc stat")
	}
	return time.Duration(ut+st) * clockTick, ppid, nil
}

// procRSS reads VmRSS of one process, in bytes.
func procRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("bench: no VmRSS")
}

// processTree lists root and all its descendants (by /proc PPid links).
func processTree(root int) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	kids := map[int][]int{}
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if _, ppid, err := procCPU(pid); err == nil {
			kids[ppid] = append(kids[ppid], pid)
		}
	}
	out := []int{root}
	for i := 0; i < len(out) && i < 10000; i++ { // bounded: a tree, not a cycle
		out = append(out, kids[out[i]]...)
	}
	return out
}

// treeUsage sums CPU time and RSS over root's process tree (or root alone).
// It fails only when root itself cannot be read.
func treeUsage(root int, tree bool) (usage, error) {
	pids := []int{root}
	if tree {
		pids = processTree(root)
	}
	var u usage
	for i, pid := range pids {
		cpu, _, err := procCPU(pid)
		if err != nil {
			if i == 0 {
				return u, err
			}
			continue // a helper exited meanwhile
		}
		rss, err := procRSS(pid)
		if err != nil {
			continue
		}
		u.cpu += cpu
		u.rss += rss
		u.procs++
	}
	return u, nil
}

// machineCPU is the machine's CPU time counters (/proc/stat, first line):
// busy excludes idle, iowait and steal (time the hypervisor gave to
// someone else, which it also counts).
type machineCPU struct{ busy, steal, total int64 }

func readMachineCPU() (machineCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return machineCPU{}, errors.New("bench: malformed /proc/stat")
	}
	var m machineCPU
	// user nice system idle iowait irq softirq steal (guest is inside user).
	for i, s := range f[1:min(len(f), 9)] {
		v, _ := strconv.ParseInt(s, 10, 64)
		m.total += v
		switch i {
		case 3, 4: // idle, iowait
		case 7:
			m.steal += v
		default:
			m.busy += v
		}
	}
	return m, nil
}

// busyPercent is the share of all cores that was busy between a and b.
func busyPercent(a, b machineCPU) float64 {
	if b.total <= a.total {
		return 0
	}
	return 100 * float64(b.busy-a.busy) / float64(b.total-a.total)
}

// stealPercent is the share of all cores the hypervisor took between a and b.
func stealPercent(a, b machineCPU) float64 {
	if b.total <= a.total {
		return 0
	}
	return 100 * float64(b.steal-a.steal) / float64(b.total-a.total)
}

// Machine describes where the benchmark ran.
type Machine struct {
	CPU    string // model name
	Cores  int    // runtime.NumCPU
	Kernel string
	Memory string
	Go     string
}

func (m Machine) String() string {
	return fmt.Sprintf("%s, %d cores, %s RAM, Linux %s, %s", m.CPU, m.Cores, m.Memory, m.Kernel, m.Go)
}

func readMachine() Machine {
	m := Machine{CPU: "unknown CPU", Cores: runtime.NumCPU(), Kernel: "?", Memory: "?", Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				m.Memory = fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
			}
		}
	}
	return m
}

// udpDrops reads the drop counter of every UDP socket of the network
// namespace (/proc/net/udp and udp6, last column: datagrams lost because
// the socket's receive buffer was full), by socket inode.
func udpDrops() map[uint64]int64 {
	out := map[uint64]int64{}
	for _, file := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 13 {
				continue
			}
			inode, err1 := strconv.ParseUint(f[9], 10, 64)
			drops, err2 := strconv.ParseInt(f[len(f)-1], 10, 64)
			if err1 == nil && err2 == nil {
				out[inode] = drops
			}
		}
	}
	return out
}

// socketInodes lists the socket inodes that the processes hold open.
func socketInodes(pids []int) map[uint64]bool {
	out := map[uint64]bool{}
	for _, pid := range pids {
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			l, err := os.Readlink(filepath.Join(dir, e.Name()))
			if err != nil {
				continue
			}
			if v, ok := strings.CutPrefix(l, "socket:["); ok {
				if n, err := strconv.ParseUint(strings.TrimSuffix(v, "]"), 10, 64); err == nil {
					out[n] = true
				}
			}
		}
	}
	return out
}

// dropsOf sums the drops between a and b of the sockets in owned.
func dropsOf(a, b map[uint64]int64, owned map[uint64]bool) int64 {
	var n int64
	for inode := range owned {
		if v, ok := b[inode]; ok {
			n += v - a[inode]
		}
	}
	return n
}

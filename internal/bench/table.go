package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable prints the report as one plain-text table with the machine
// above it and the notes below.
func (r *Report) WriteTable(w io.Writer, command string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "machine:  %s\n", r.Machine)
	if r.Chromium != "" {
		fmt.Fprintf(&b, "browser:  %s (headless, software video)\n", r.Chromium)
	}
	if command != "" {
		fmt.Fprintf(&b, "command:  %s\n", command)
	}
	pacing := "paced at 2.5x like Chrome's sender"
	if r.Config.Burst {
		pacing = "each frame in one burst"
	}
	fmt.Fprintf(&b, "window:   %v per row after a %v settle; synthetic stream %.1f Mbit/s VP8-shaped + 32 kbit/s audio, %s\n\n",
		r.Config.Window, r.Config.Settle, float64(r.Config.VideoBitrate)/1e6, pacing)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "relay\tsource\tN\tjoined\tpkt/s/child\tkbit/s/child\trelay CPU %\tµs/pkt\tRSS/child\tloss %\tUDP drops\tlat p50\tlat p99\t1st frame p50/max\tchildren/CPU-s\tGo÷browser\tmachine busy %\t")
	for _, row := range r.Rows {
		if row.Err != nil {
			fmt.Fprintf(tw, "%s\t%s\t%d\tfailed: %s\t\n", row.Relay, row.Source, row.N, firstLine(row.Err.Error()))
			continue
		}
		cells := []string{row.Relay, row.Source, fmt.Sprint(row.N), fmt.Sprintf("%d", row.Joined),
			fmt.Sprintf("%.0f", row.PacketRate), fmt.Sprintf("%.0f", row.Bitrate/1000)}
		if row.Relay == "none" {
			cells = append(cells, "-", "-", "-")
		} else {
			cells = append(cells, fmt.Sprintf("%.1f", row.CPUPercent), fmt.Sprintf("%.2f", row.USPerPacket), mib(row.RSSPerChild))
		}
		cells = append(cells, fmt.Sprintf("%.3f", 100*row.Loss))
		if row.Relay == "none" {
			cells = append(cells, fmt.Sprintf("-/%d", row.ChildDrops))
		} else {
			cells = append(cells, fmt.Sprintf("%d/%d", row.RelayDrops, row.ChildDrops))
		}
		if row.LatEstimate {
			cells = append(cells, "~"+ms(row.LatP50)+" (a)", "n/a")
		} else {
			cells = append(cells, ms(row.LatP50), ms(row.LatP99))
		}
		switch {
		case row.LateChildren == 0:
			cells = append(cells, fmt.Sprintf("none in %v", firstFrameTimeout))
		case row.NoFirstFrame:
			cells = append(cells, fmt.Sprintf("%.0f ms (%d of %d)", msf(row.FirstFrame), row.LateChildren, lateChildren))
		default:
			cells = append(cells, fmt.Sprintf("%.0f / %.0f ms", msf(row.FirstFrame), msf(row.FirstFrameMax)))
		}
		if row.Relay == "none" || row.ChildrenPerCPUSecond == 0 {
			cells = append(cells, "-")
		} else {
			cells = append(cells, fmt.Sprintf("%.0f", row.ChildrenPerCPUSecond))
		}
		if row.Ratio > 0 {
			cells = append(cells, fmt.Sprintf("%.0f×", row.Ratio))
		} else {
			cells = append(cells, "")
		}
		busy := fmt.Sprintf("%.0f", row.MachineBusy)
		if row.Others >= 5 || row.Steal >= 1 {
			busy += fmt.Sprintf(" (others %.0f, steal %.0f)", row.Others, row.Steal)
		}
		cells = append(cells, busy)
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	goSlope, goOK := r.slope("go", "clip")
	brSlope, brOK := r.slope("browser", "clip")
	if goOK && brOK && goSlope > 0 {
		fmt.Fprintf(&b, "\nCPU per extra child on the clip (least-squares slope of relay CPU %% over N): Go %.2f %%, browser %.1f %%: %.0f× as many children per CPU-second at the margin.\n",
			goSlope, brSlope, brSlope/goSlope)
	}
	for _, h := range r.Heal {
		if h.Err != nil {
			fmt.Fprintf(&b, "\nheal, %s: failed after %d runs: %s", h.Mode, len(h.Gaps), firstLine(h.Err.Error()))
			continue
		}
		what := map[string]string{"crash": "parent crash (SIGKILL)", "leave": "planned departure (SIGTERM)"}[h.Mode]
		var gs []string
		for _, g := range h.Gaps {
			gs = append(gs, ms(g))
		}
		fmt.Fprintf(&b, "\nheal: media gap at a grandchild after a %s of its grandparent relay: median %s of %d runs (%s)",
			what, ms(h.Median()), len(h.Gaps), strings.Join(gs, ", "))
	}
	if len(r.Heal) > 0 {
		b.WriteString("\n")
	}
	b.WriteString(tableNotes)
	_, err := io.WriteString(w, b.String())
	return err
}

const tableNotes = `
relay: go = p2plive-node join (child process); browser = headless Chromium relaying with testdata/web/tree.html
  (answers the host's call, re-calls each child with the received stream); none = children on the source itself.
source: synthetic = Go host, VP8-shaped packets of 1100 B, keyframe every 2 s and on request; clip = the committed
  640x360 VP8 + Opus clip (~230 kbit/s), looped. Children: Go viewers in the benchmark process.
relay CPU %: user+system time of the relay process (Chromium: its whole process tree) / wall time; 100 = one core.
µs/pkt: relay CPU / packets forwarded in the window (go: packets the source sent x children; browser: packets the
  children received). RSS/child: (relay RSS at N - RSS streaming with no child) / N (Chromium: summed over its tree).
loss %: go/none: packets sent in the window that no child got within 1 s after it; browser: gaps in the sequence
  numbers the children received. lat: source send -> child receive on one clock (go/none; includes both hops).
(a) a browser re-encodes, so packets cannot be matched: Chrome's own stats, mean per frame of receive->decoded +
  encode + pacer delay, network hops not included.
UDP drops: datagrams the kernel dropped at full receive buffers, relay/children sockets (window + 1 s).
1st frame: 5 children joining one by one after the window, 400 ms apart (one keyframe interval): median/max of the
  time from a child's start (registration, data connection, report, call) to its first complete keyframe.
children/CPU-s: children served per second of relay CPU; Go÷browser: ratio of that at the same N.
heal: Go host (synthetic) -> relay A -> relay B -> Go viewer, all relays p2plive-node processes; A gets the
  signal; the gap is the longest time between two video packets at the viewer in the 6 s after it.
machine busy %: all cores, whole machine (source, children, relay) during the window; shown with "others" (other
  processes on the machine) and steal (hypervisor) when others >= 5 % or steal >= 1 %: such a row is unreliable.
`

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func mib(b float64) string {
	if b < 1<<20 {
		return fmt.Sprintf("%.0f KiB", b/1024)
	}
	return fmt.Sprintf("%.2f MiB", b/(1<<20))
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// slope fits relay CPU % = a + slope·N over the rows of a relay and source
// (least squares); ok is false with fewer than two distinct N.
func (r *Report) slope(relay, source string) (slope float64, ok bool) {
	var n, sx, sy, sxx, sxy float64
	for _, row := range r.Rows {
		if row.Relay != relay || row.Source != source || row.Err != nil {
			continue
		}
		x, y := float64(row.N), row.CPUPercent
		n, sx, sy, sxx, sxy = n+1, sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	d := n*sxx - sx*sx
	if n < 2 || d == 0 {
		return 0, false
	}
	return (n*sxy - sx*sy) / d, true
}

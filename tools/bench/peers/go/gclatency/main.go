// Go peer of the gclatency workload: a window of -window live 1 KiB
// pointer-free messages; -count times a new message replaces the oldest and
// each push is timed. Reports the worst and 99.99th-percentile push and the
// stop-the-world pauses of the GC cycles that ran (runtime.MemStats).
// See tools/bench/README.md for the exact definition.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"sort"
	"syscall"
	"time"
	"unsafe"
)

const msgSize = 1024

type msg [msgSize]byte

// The window is package-level, so every message is reachable from a global.
var window []*msg

func mkMessage(i int) *msg {
	m := new(msg)
	// Fill all bytes with byte(i); doubling copies run at memmove speed.
	m[0] = byte(i)
	for j := 1; j < msgSize; j *= 2 {
		copy(m[j:], m[:j])
	}
	return m
}

// rank returns the nearest-rank p = num/den quantile of sorted values.
func rank[T uint32 | uint64](sorted []T, num, den int) T {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	idx := (n*num+den-1)/den - 1
	if idx < 0 {
		idx = 0
	}
	if idx >= n {
		idx = n - 1
	}
	return sorted[idx]
}

func main() {
	win := flag.Int("window", 200000, "live messages")
	count := flag.Int("count", 2000000, "messages pushed")
	flag.Parse()
	if *win < 1 || *count < 0 {
		fmt.Fprintln(os.Stderr, "gclatency: need -window >= 1 and -count >= 0")
		os.Exit(2)
	}

	// Push times live outside the Go heap (anonymous mapping), so they do
	// not change the heap the collector paces.
	var lat []uint32
	if *count > 0 {
		mem, err := syscall.Mmap(-1, 0, *count*4, syscall.PROT_READ|syscall.PROT_WRITE,
			syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gclatency: mmap:", err)
			os.Exit(1)
		}
		lat = unsafe.Slice((*uint32)(unsafe.Pointer(&mem[0])), *count)
	}

	window = make([]*msg, *win)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gc0 := ms.NumGC
	pacing := startPacingSampler()

	start := time.Now()
	for i := 0; i < *count; i++ {
		t0 := time.Now()
		window[i%*win] = mkMessage(i)
		d := time.Since(t0)
		if d > 0xffffffff {
			d = 0xffffffff
		}
		lat[i] = uint32(d)
	}
	elapsed := time.Since(start)
	pacing.finish()

	runtime.ReadMemStats(&ms)
	var check int64
	for _, m := range window {
		if m != nil {
			check += int64(m[msgSize-1])
		}
	}

	pushes := lat
	sort.Slice(pushes, func(a, b int) bool { return pushes[a] < pushes[b] })
	var worst uint32
	if len(pushes) > 0 {
		worst = pushes[len(pushes)-1]
	}

	gcs := ms.NumGC - gc0
	cycles := gcs
	if cycles > 256 {
		cycles = 256 // PauseNs keeps the last 256 cycles only
	}
	pauses := make([]uint64, 0, cycles)
	for c := uint32(0); c < cycles; c++ {
		pauses = append(pauses, ms.PauseNs[(ms.NumGC-c+255)%256])
	}
	sort.Slice(pauses, func(a, b int) bool { return pauses[a] < pauses[b] })
	var stwMax uint64
	if len(pauses) > 0 {
		stwMax = pauses[len(pauses)-1]
	}

	fmt.Printf("RESULT gclatency window=%d count=%d seconds=%.3f worst_push_us=%.1f p9999_push_us=%.1f "+
		"gcs=%d stw_p50_us=%.1f stw_p99_us=%.1f stw_max_us=%.1f heap_sys_mb=%.1f check=%d "+
		"gc_cpu_pct=%.1f peak_heap_goal=%.3f\n",
		*win, *count, elapsed.Seconds(), float64(worst)/1e3, float64(rank(pushes, 9999, 10000))/1e3,
		gcs, float64(rank(pauses, 50, 100))/1e3, float64(rank(pauses, 99, 100))/1e3,
		float64(stwMax)/1e3, float64(ms.HeapSys)/(1<<20), check, gcCPUPercent(&ms), pacing.peakRatio)
}

// pacingSampler reads the heap every millisecond through runtime/metrics
// (the names librt's side reads through rt::metrics) and keeps the peaks
// of heap in use over the heap goal and of the mapped heap (objects +
// unused + free).
type pacingSampler struct {
	peakRatio  float64
	peakMapped uint64
	stop, done chan struct{}
	s          []metrics.Sample
}

func startPacingSampler() *pacingSampler {
	p := &pacingSampler{stop: make(chan struct{}), done: make(chan struct{}),
		s: []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/goal:bytes"},
			{Name: "/memory/classes/heap/unused:bytes"}, {Name: "/memory/classes/heap/free:bytes"}}}
	p.sample()
	go func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				close(p.done)
				return
			case <-tick.C:
				p.sample()
			}
		}
	}()
	return p
}

func (p *pacingSampler) sample() {
	metrics.Read(p.s)
	inUse, goal := p.s[0].Value.Uint64(), p.s[1].Value.Uint64()
	if goal > 0 && float64(inUse)/float64(goal) > p.peakRatio {
		p.peakRatio = float64(inUse) / float64(goal)
	}
	if m := inUse + p.s[2].Value.Uint64() + p.s[3].Value.Uint64(); m > p.peakMapped {
		p.peakMapped = m
	}
}

// finish stops sampling after one last sample; the peaks are final then.
func (p *pacingSampler) finish() {
	close(p.stop)
	<-p.done
	p.sample()
}

// gcCPUPercent is GC CPU since the program started (MemStats.GCCPUFraction).
func gcCPUPercent(ms *runtime.MemStats) float64 { return ms.GCCPUFraction * 100 }

// Go peer of the preempt workload: with one P (GOMAXPROCS=1) two goroutines
// spin in a loop with no calls and no allocation, so only asynchronous
// preemption lets main run; main sleeps 1 ms -samples times and measures how
// late each wake-up is. See tools/bench/README.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync/atomic"
	"time"
)

var (
	stop  int32
	spins [2]uint64
)

func spin(id int) {
	// atomic.LoadInt32 is an intrinsic on amd64: the loop makes no call.
	for atomic.LoadInt32(&stop) == 0 {
		spins[id]++
	}
}

func rank(sorted []time.Duration, num, den int) time.Duration {
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

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func main() {
	samples := flag.Int("samples", 100, "1 ms sleeps measured")
	flag.Parse()
	if *samples < 1 {
		fmt.Fprintln(os.Stderr, "preempt: -samples must be >= 1")
		os.Exit(2)
	}
	runtime.GOMAXPROCS(1)
	go spin(0)
	go spin(1)
	runtime.Gosched() // let the spinners take the P first

	late := make([]time.Duration, *samples)
	for s := range late {
		t0 := time.Now()
		time.Sleep(time.Millisecond)
		d := time.Since(t0) - time.Millisecond
		if d < 0 {
			d = 0
		}
		late[s] = d
	}
	atomic.StoreInt32(&stop, 1)
	sort.Slice(late, func(a, b int) bool { return late[a] < late[b] })
	fmt.Printf("RESULT preempt samples=%d late_p50_ms=%.3f late_p99_ms=%.3f late_max_ms=%.3f\n",
		*samples, ms(rank(late, 50, 100)), ms(rank(late, 99, 100)), ms(late[len(late)-1]))
}

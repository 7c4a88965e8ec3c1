// Go peer of the alloc workload: n allocations alternating a 56-byte node
// holding one pointer and a pointer-free 16..72-byte buffer; one object in
// 1024 is linked into a list dropped every 2^20 allocations, the rest is
// garbage at once. See tools/bench/README.md for the exact definition.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"time"
)

type node struct {
	next    *node
	payload [6]int64
}

// Package-level sinks: storing every object here makes it escape, so each
// allocation really goes to the heap.
var (
	sinkNode *node
	sinkBuf  []byte
	head     *node
)

func main() {
	n := flag.Int64("n", 50000000, "number of allocations")
	flag.Parse()
	if *n < 0 {
		fmt.Fprintln(os.Stderr, "alloc: -n must be >= 0")
		os.Exit(2)
	}

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gc0 := ms.NumGC

	var check, listlen int64
	pacing := startPacingSampler()
	start := time.Now()
	for i := int64(0); i < *n; i++ {
		if i%2 == 0 {
			nd := &node{}
			nd.payload[0] = i
			if i%1024 == 0 {
				nd.next = head
				head = nd
				listlen++
			} else {
				sinkNode = nd
			}
		} else {
			b := make([]byte, 16+((i/2)%8)*8)
			b[0] = byte(i)
			sinkBuf = b
		}
		if (i+1)%(1<<20) == 0 {
			head = nil
			check += listlen
			listlen = 0
		}
	}
	head = nil
	check += listlen
	elapsed := time.Since(start)
	pacing.finish()

	runtime.ReadMemStats(&ms)
	sec := elapsed.Seconds()
	nsPer := 0.0
	if *n > 0 {
		nsPer = float64(elapsed.Nanoseconds()) / float64(*n)
	}
	fmt.Printf("RESULT alloc n=%d seconds=%.3f ns_per_alloc=%.2f gcs=%d check=%d gc_cpu_pct=%.1f peak_heap_goal=%.3f\n",
		*n, sec, nsPer, ms.NumGC-gc0, check, gcCPUPercent(&ms), pacing.peakRatio)
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

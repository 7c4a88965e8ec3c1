// Go peer of the binarytrees workload (Benchmarks Game binary-trees): a
// stretch tree of depth+1, a long-lived tree of depth, then for
// d = 4, 6, ..., depth, 2^(depth-d+4) trees of depth d built and checked,
// one goroutine per depth. Reports GC figures from runtime.MemStats and the
// peak mapped heap sampled every millisecond. See tools/bench/README.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

type Node struct {
	left, right *Node
}

func bottomUp(depth int) *Node {
	if depth <= 0 {
		return &Node{}
	}
	return &Node{bottomUp(depth - 1), bottomUp(depth - 1)}
}

func (n *Node) check() int64 {
	if n.left == nil {
		return 1
	}
	return 1 + n.left.check() + n.right.check()
}

const minDepth = 4

func main() {
	depth := flag.Int("depth", 21, "maximum tree depth")
	flag.Parse()
	maxDepth := *depth
	if maxDepth < minDepth+2 {
		maxDepth = minDepth + 2
	}
	if maxDepth > 30 {
		fmt.Fprintln(os.Stderr, "binarytrees: -depth must be <= 30")
		os.Exit(2)
	}

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gc0 := ms.NumGC

	pacing := startPacingSampler()

	start := time.Now()
	check := bottomUp(maxDepth + 1).check()

	longLived := bottomUp(maxDepth)

	nd := (maxDepth-minDepth)/2 + 1
	results := make([]int64, nd)
	var wg sync.WaitGroup
	for k := 0; k < nd; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			d := minDepth + 2*k
			iters := 1 << (maxDepth - d + minDepth)
			var c int64
			for i := 0; i < iters; i++ {
				c += bottomUp(d).check()
			}
			results[k] = c
		}(k)
	}
	wg.Wait()
	for _, c := range results {
		check += c
	}
	check += longLived.check()
	elapsed := time.Since(start)

	pacing.finish()
	runtime.KeepAlive(longLived)
	runtime.ReadMemStats(&ms)
	gcs := ms.NumGC - gc0
	var maxPause uint64
	cycles := gcs
	if cycles > 256 {
		cycles = 256 // PauseNs keeps the last 256 cycles only
	}
	for c := uint32(0); c < cycles; c++ {
		if p := ms.PauseNs[(ms.NumGC-c+255)%256]; p > maxPause {
			maxPause = p
		}
	}
	fmt.Printf("RESULT binarytrees depth=%d seconds=%.3f gcs=%d max_pause_us=%.1f peak_heap_mb=%.1f check=%d "+
		"gc_cpu_pct=%.1f peak_heap_goal=%.3f\n",
		maxDepth, elapsed.Seconds(), gcs, float64(maxPause)/1e3, float64(pacing.peakMapped)/(1<<20), check,
		gcCPUPercent(&ms), pacing.peakRatio)
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

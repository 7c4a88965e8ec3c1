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

// heapMapped returns the bytes of heap spans held from the OS and not
// released (MemStats HeapSys - HeapReleased), read without stopping the world.
func heapMapped(s []metrics.Sample) uint64 {
	metrics.Read(s)
	var t uint64
	for _, x := range s {
		if x.Value.Kind() == metrics.KindUint64 {
			t += x.Value.Uint64()
		}
	}
	return t
}

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

	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gc0 := ms.NumGC

	// The sampler records the peak of the mapped heap every millisecond.
	var peak uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		s := make([]metrics.Sample, len(samples))
		copy(s, samples)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			if h := heapMapped(s); h > peak {
				peak = h
			}
			select {
			case <-stop:
				close(sampled)
				return
			case <-tick.C:
			}
		}
	}()

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

	close(stop)
	<-sampled
	if h := heapMapped(samples); h > peak {
		peak = h
	}
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
	fmt.Printf("RESULT binarytrees depth=%d seconds=%.3f gcs=%d max_pause_us=%.1f peak_heap_mb=%.1f check=%d\n",
		maxDepth, elapsed.Seconds(), gcs, float64(maxPause)/1e3, float64(peak)/(1<<20), check)
}

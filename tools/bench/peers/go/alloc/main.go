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

	runtime.ReadMemStats(&ms)
	sec := elapsed.Seconds()
	nsPer := 0.0
	if *n > 0 {
		nsPer = float64(elapsed.Nanoseconds()) / float64(*n)
	}
	fmt.Printf("RESULT alloc n=%d seconds=%.3f ns_per_alloc=%.2f gcs=%d check=%d\n",
		*n, sec, nsPer, ms.NumGC-gc0, check)
}

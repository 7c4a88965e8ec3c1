// Go peer of the spawn workload: -n goroutines, goroutine i adds i+1 to an
// atomic and calls Done on a WaitGroup; main waits. See tools/bench/README.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

var sum int64

func main() {
	n := flag.Int("n", 1000000, "goroutines spawned")
	flag.Parse()
	if *n < 0 {
		fmt.Fprintln(os.Stderr, "spawn: -n must be >= 0")
		os.Exit(2)
	}
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(*n)
	for i := 0; i < *n; i++ {
		go func(i int) {
			atomic.AddInt64(&sum, int64(i)+1)
			wg.Done()
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	per := 0.0
	if *n > 0 {
		per = float64(elapsed.Nanoseconds()) / float64(*n)
	}
	fmt.Printf("RESULT spawn n=%d seconds=%.3f ns_per_goroutine=%.1f sum=%d\n",
		*n, elapsed.Seconds(), per, atomic.LoadInt64(&sum))
}

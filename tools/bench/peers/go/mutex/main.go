// Go peer of the mutex workload: -g goroutines each do -k lock / increment /
// unlock on one sync.Mutex; main waits. See tools/bench/README.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"sync"
	"time"
)

var (
	mu      sync.Mutex
	counter int64
)

func main() {
	g := flag.Int("g", 64, "goroutines")
	k := flag.Int("k", 100000, "lock/unlock pairs per goroutine")
	flag.Parse()
	if *g < 0 || *k < 0 {
		fmt.Fprintln(os.Stderr, "mutex: -g and -k must be >= 0")
		os.Exit(2)
	}
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(*g)
	for i := 0; i < *g; i++ {
		go func() {
			for j := 0; j < *k; j++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	ops := int64(*g) * int64(*k)
	per := 0.0
	if ops > 0 {
		per = float64(elapsed.Nanoseconds()) / float64(ops)
	}
	mu.Lock()
	c := counter
	mu.Unlock()
	fmt.Printf("RESULT mutex g=%d k=%d seconds=%.3f ns_per_op=%.1f counter=%d\n",
		*g, *k, elapsed.Seconds(), per, c)
}

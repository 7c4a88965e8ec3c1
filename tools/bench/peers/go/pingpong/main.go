// Go peer of the pingpong workload: two goroutines bounce an int over two
// unbuffered channels -n times; each round trip adds one, so v ends at n.
// See tools/bench/README.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	n := flag.Int("n", 2000000, "round trips")
	flag.Parse()
	if *n < 0 {
		fmt.Fprintln(os.Stderr, "pingpong: -n must be >= 0")
		os.Exit(2)
	}
	ping := make(chan int)
	pong := make(chan int)
	done := make(chan struct{})
	start := time.Now()
	go func() {
		for i := 0; i < *n; i++ {
			v := <-ping
			pong <- v + 1
		}
		close(done)
	}()
	v := 0
	for i := 0; i < *n; i++ {
		ping <- v
		v = <-pong
	}
	<-done
	elapsed := time.Since(start)
	per := 0.0
	if *n > 0 {
		per = float64(elapsed.Nanoseconds()) / float64(*n)
	}
	fmt.Printf("RESULT pingpong n=%d seconds=%.3f ns_per_roundtrip=%.1f v=%d\n",
		*n, elapsed.Seconds(), per, v)
}

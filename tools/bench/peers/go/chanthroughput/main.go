// Go peer of the chanthroughput workload. Phase 1: 4 producers and 4
// consumers move the ints 0..n-1 over one channel of capacity 128. Phase 2:
// two producers fill two channels of capacity 64 with n/4 ints each and close
// them; main drains both with a two-case select until both are closed.
// See tools/bench/README.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"sync"
	"time"
)

func main() {
	n := flag.Int64("n", 4000000, "ints moved in phase 1")
	flag.Parse()
	if *n < 0 {
		fmt.Fprintln(os.Stderr, "chanthroughput: -n must be >= 0")
		os.Exit(2)
	}
	N := *n

	// Phase 1: 4 producers, 4 consumers, one channel of capacity 128.
	start := time.Now()
	ch := make(chan int64, 128)
	var sums [4]int64
	var pwg, cwg sync.WaitGroup
	for c := 0; c < 4; c++ {
		cwg.Add(1)
		go func(c int) {
			var s int64
			for v := range ch {
				s += v
			}
			sums[c] = s
			cwg.Done()
		}(c)
	}
	for p := int64(0); p < 4; p++ {
		pwg.Add(1)
		go func(p int64) {
			for i := p * N / 4; i < (p+1)*N/4; i++ {
				ch <- i
			}
			pwg.Done()
		}(p)
	}
	pwg.Wait()
	close(ch)
	cwg.Wait()
	var check int64
	for _, s := range sums {
		check += s
	}
	mid := time.Now()

	// Phase 2: one goroutine (main) drains two channels with a select.
	q := N / 4
	a := make(chan int64, 64)
	b := make(chan int64, 64)
	go func() {
		for i := int64(0); i < q; i++ {
			a <- i
		}
		close(a)
	}()
	go func() {
		for i := q; i < 2*q; i++ {
			b <- i
		}
		close(b)
	}()
	var got int64
	for a != nil || b != nil {
		select {
		case v, ok := <-a:
			if !ok {
				a = nil
			} else {
				got += v
			}
		case v, ok := <-b:
			if !ok {
				b = nil
			} else {
				got += v
			}
		}
	}
	end := time.Now()

	perItem, perSel := 0.0, 0.0
	if N > 0 {
		perItem = float64(mid.Sub(start).Nanoseconds()) / float64(N)
	}
	if q > 0 {
		perSel = float64(end.Sub(mid).Nanoseconds()) / float64(2*q)
	}
	fmt.Printf("RESULT chanthroughput n=%d seconds=%.3f ns_per_item=%.1f select_ns_per_item=%.1f check=%d got=%d\n",
		N, end.Sub(start).Seconds(), perItem, perSel, check, got)
}

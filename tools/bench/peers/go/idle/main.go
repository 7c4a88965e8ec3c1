// Go peer of the idle workload: -n goroutines park on one channel receive;
// resident memory (VmRSS from /proc/self/status) is read before spawning and
// once all have started, and the difference is divided by n.
// See tools/bench/README.md.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// vmRSS returns the process's resident set size in KiB.
func vmRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		fmt.Fprintln(os.Stderr, "idle:", err)
		os.Exit(1)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "VmRSS:") {
			fields := strings.Fields(line[len("VmRSS:"):])
			if len(fields) > 0 {
				if v, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
					return v
				}
			}
		}
	}
	fmt.Fprintln(os.Stderr, "idle: no VmRSS in /proc/self/status")
	os.Exit(1)
	return 0
}

func main() {
	n := flag.Int("n", 100000, "parked goroutines")
	flag.Parse()
	if *n < 1 {
		fmt.Fprintln(os.Stderr, "idle: -n must be >= 1")
		os.Exit(2)
	}
	ch := make(chan struct{})
	var started, done sync.WaitGroup
	started.Add(*n)
	done.Add(*n)

	before := vmRSS()
	start := time.Now()
	for i := 0; i < *n; i++ {
		go func() {
			started.Done()
			<-ch
			done.Done()
		}()
	}
	started.Wait()
	spawn := time.Since(start)
	after := vmRSS()

	close(ch)
	done.Wait()
	fmt.Printf("RESULT idle n=%d bytes_per_goroutine=%.0f spawn_ns=%.1f rss_before_kb=%d rss_after_kb=%d\n",
		*n, float64(after-before)*1024/float64(*n), float64(spawn.Nanoseconds())/float64(*n), before, after)
}

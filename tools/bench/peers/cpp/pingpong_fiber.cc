// Boost.Fiber peer of the pingpong workload: two fibers on one thread bounce
// an int over two boost::fibers::unbuffered_channel -n times; each round trip
// adds one, so v ends at n. See tools/bench/README.md.
#include <boost/fiber/all.hpp>
#include <cstdio>

#include "peer_common.h"

int main(int argc, char** argv) {
  peer::Flags flags("pingpong");
  int64_t& n = flags.int_flag("n", 2000000, "round trips");
  flags.parse(argc, argv);
  peer::require(n >= 0, "pingpong", "-n must be >= 0");

  using boost::fibers::channel_op_status;
  boost::fibers::unbuffered_channel<int64_t> ping, pong;
  auto start = peer::Clock::now();
  boost::fibers::fiber echo([&] {
    for (int64_t i = 0; i < n; ++i) {
      int64_t v = 0;
      if (ping.pop(v) != channel_op_status::success) return;
      if (pong.push(v + 1) != channel_op_status::success) return;
    }
  });
  int64_t v = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (ping.push(v) != channel_op_status::success || pong.pop(v) != channel_op_status::success) {
      std::fprintf(stderr, "pingpong: channel closed\n");
      return 1;
    }
  }
  echo.join();
  int64_t ns = peer::ns_since(start);
  double per = n > 0 ? static_cast<double>(ns) / static_cast<double>(n) : 0.0;
  std::printf("RESULT pingpong n=%lld seconds=%.3f ns_per_roundtrip=%.1f v=%lld\n",
              static_cast<long long>(n), static_cast<double>(ns) / 1e9, per,
              static_cast<long long>(v));
  return 0;
}

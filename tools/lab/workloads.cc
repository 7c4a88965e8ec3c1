// The lab's workloads (see workloads.h): the window family (window, limit,
// phase share one loop with a schedule for the window's size), binary
// trees, and the server simulation. Stalls are measured per goroutine with
// a StallClock.
#include "tools/lab/workloads.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>

#include "rt/chan.h"
#include "rt/gc.h"
#include "rt/root.h"
#include "rt/sched.h"
#include "rt/sync.h"

namespace lab {
namespace {

uint64_t now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

// The worst gap between consecutive operation ends of one goroutine.
// restart() after a deliberate wait so the wait is not counted.
class StallClock {
 public:
  StallClock() : last_(now_ns()) {}
  void op_done() {
    uint64_t t = now_ns();
    worst_ = std::max(worst_, t - last_);
    last_ = t;
  }
  void restart() { last_ = now_ns(); }
  uint64_t worst() const { return worst_; }

 private:
  uint64_t last_;
  uint64_t worst_ = 0;
};

// Sleeps until operation i is due at `rate` per second from `start`.
void pace(int64_t rate, uint64_t start, uint64_t i, StallClock& clock) {
  if (rate <= 0) return;
  uint64_t due = start + i * 1000000000ull / static_cast<uint64_t>(rate);
  uint64_t t = now_ns();
  if (due > t) {
    rt::sleep(std::chrono::nanoseconds(due - t));
    clock.restart();
  }
}

struct MsgSlot {
  rt::Ref<unsigned char> bytes;
};

unsigned char* make_message(size_t size, uint64_t i) {
  unsigned char* m = rt::make_array<unsigned char>(size);
  m[0] = static_cast<unsigned char>(i);
  m[size - 1] = static_cast<unsigned char>(i >> 8);
  return m;
}

// The window family: operation i stores a new message at slot i % n(i),
// where n(i) is the schedule's window size in messages.
WorkloadResult run_window(const WorkloadParams& p, const std::function<size_t(uint64_t)>& slots_at, size_t max_slots,
                          const std::function<void()>& measure) {
  size_t msg = static_cast<size_t>(p.msg);
  rt::Root<MsgSlot> window(rt::make_array<MsgSlot>(max_slots));
  size_t prev_n = std::max<size_t>(1, std::min(slots_at(0), max_slots));
  for (size_t k = 0; k < prev_n; k++) window.get()[k].bytes = make_message(msg, k);
  measure();
  WorkloadResult r;
  StallClock clock;
  uint64_t start = now_ns();
  for (uint64_t i = 0; i < static_cast<uint64_t>(p.count); i++) {
    pace(p.rate, start, i, clock);
    size_t n = std::max<size_t>(1, std::min(slots_at(i), max_slots));
    // A shrinking window lets go of the messages past its new end.
    for (size_t k = n; k < prev_n; k++) window.get()[k].bytes = nullptr;
    prev_n = n;
    window.get()[i % n].bytes = make_message(msg, i);
    clock.op_done();
  }
  for (size_t k = 0; k < max_slots; k++)
    if (unsigned char* m = window.get()[k].bytes.get()) r.check += m[0];
  r.ops = static_cast<uint64_t>(p.count);
  r.worst_stall_ns = clock.worst();
  return r;
}

struct Node {
  rt::Ref<Node> left, right;
};

Node* build_tree(int depth, StallClock& clock) {
  Node* n = rt::make<Node>();
  clock.op_done();
  if (depth > 0) {
    n->left = build_tree(depth - 1, clock);
    n->right = build_tree(depth - 1, clock);
  }
  return n;
}

uint64_t count_nodes(const Node* n) {
  return n->left ? 1 + count_nodes(n->left.get()) + count_nodes(n->right.get()) : 1;
}

WorkloadResult run_trees(const WorkloadParams& p, const std::function<void()>& measure) {
  WorkloadResult r;
  StallClock clock;
  int depth = static_cast<int>(p.depth);
  rt::Root<Node> long_lived(build_tree(depth, clock));
  measure();
  clock = StallClock();
  uint64_t start = now_ns();
  for (uint64_t i = 0; i < static_cast<uint64_t>(p.count); i++) {
    pace(p.rate, start, i, clock);
    r.check += count_nodes(build_tree(depth, clock));
  }
  r.check += count_nodes(long_lived.get());
  r.ops = r.check;
  r.worst_stall_ns = clock.worst();
  return r;
}

constexpr size_t kCacheEntry = 1024;

struct CacheEntry {
  rt::Ref<unsigned char> value;
  uint64_t version = 0;
};

struct Request {
  uint64_t id = 0;
};

WorkloadResult run_server(const WorkloadParams& p, const std::function<void()>& measure) {
  size_t workers = static_cast<size_t>(p.workers);
  size_t entries = std::max<size_t>(workers, static_cast<size_t>(p.live) / kCacheEntry);
  size_t garbage = static_cast<size_t>(p.msg);
  rt::Root<CacheEntry> cache(rt::make_array<CacheEntry>(entries));
  for (size_t k = 0; k < entries; k++) cache.get()[k].value = make_message(kCacheEntry, k);
  measure();
  auto requests = rt::make_chan<Request>(64);
  std::vector<uint64_t> worst(workers, 0), checks(workers, 0);
  rt::WaitGroup wg;
  for (size_t w = 0; w < workers; w++) {
    wg.go([&, w, requests]() mutable {
      StallClock clock;
      for (;;) {
        auto [req, ok] = requests.recv2();
        if (!ok) break;
        clock.restart();  // waiting for a request is not a stall
        // Per-request garbage: a parsed request and a response buffer.
        unsigned char* body = make_message(garbage, req.id);
        unsigned char* reply = make_message(std::max<size_t>(64, garbage / 4), req.id);
        // Worker w owns the cache entries k with k % workers == w.
        size_t mine = (entries - w + workers - 1) / workers;
        size_t k = w + (req.id * 2654435761u % mine) * workers;
        CacheEntry& e = cache.get()[k];
        if (++e.version % 8 == 0) e.value = make_message(kCacheEntry, req.id);
        checks[w] += body[0] + reply[0] + e.value.get()[0];
        rt::keep_alive(body);
        rt::keep_alive(reply);
        clock.op_done();
      }
      worst[w] = clock.worst();
    });
  }
  uint64_t start = now_ns();
  StallClock unused;
  for (uint64_t i = 0; i < static_cast<uint64_t>(p.count); i++) {
    pace(p.rate, start, i, unused);
    requests.send(Request{i});
  }
  requests.close();
  wg.wait();
  WorkloadResult r;
  r.ops = static_cast<uint64_t>(p.count);
  for (size_t w = 0; w < workers; w++) {
    r.worst_stall_ns = std::max(r.worst_stall_ns, worst[w]);
    r.check += checks[w];
  }
  return r;
}

}  // namespace

const std::vector<std::string>& workload_names() {
  static const std::vector<std::string> names = {"window", "trees", "server", "limit", "phase"};
  return names;
}

bool parse_size(const std::string& text, int64_t* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  double v = strtod(text.c_str(), &end);
  if (errno != 0 || end == text.c_str() || v < 0) return false;
  std::string unit(end);
  double mult = 1;
  if (unit == "" || unit == "B") mult = 1;
  else if (unit == "KiB" || unit == "k" || unit == "K") mult = 1024.0;
  else if (unit == "MiB" || unit == "M") mult = 1024.0 * 1024;
  else if (unit == "GiB" || unit == "G") mult = 1024.0 * 1024 * 1024;
  else if (unit == "KB") mult = 1e3;
  else if (unit == "MB") mult = 1e6;
  else if (unit == "GB") mult = 1e9;
  else return false;
  double b = v * mult;
  if (b > 9.0e18) return false;
  *out = static_cast<int64_t>(b);
  return true;
}

std::string format_size(double bytes) {
  char buf[32];
  if (bytes >= 1024.0 * 1024 * 1024) snprintf(buf, sizeof buf, "%.2fGiB", bytes / (1024.0 * 1024 * 1024));
  else if (bytes >= 1024.0 * 1024) snprintf(buf, sizeof buf, "%.1fMiB", bytes / (1024.0 * 1024));
  else if (bytes >= 1024.0) snprintf(buf, sizeof buf, "%.1fKiB", bytes / 1024.0);
  else snprintf(buf, sizeof buf, "%.0fB", bytes);
  return buf;
}

void add_workload_flags(rt_bench::Flags& flags, WorkloadParams& p, WorkloadFlagText& text) {
  text.live = format_size(static_cast<double>(p.live));
  text.msg = std::to_string(p.msg);
  text.grow = format_size(static_cast<double>(p.grow));
  flags.add_string("workload", &p.name, "workload: window, trees, server, limit or phase");
  flags.add_string("live", &text.live, "window: live bytes; server: cache bytes; limit, phase: starting live bytes");
  flags.add_string("msg", &text.msg, "window, limit, phase: message bytes; server: garbage bytes per request");
  flags.add("count", &p.count, "operations: messages, trees or requests (0: 200000, 30 or 100000)");
  flags.add("rate", &p.rate, "operations per second (0: as fast as possible)");
  flags.add("depth", &p.depth, "trees: tree depth");
  flags.add("workers", &p.workers, "server: worker goroutines");
  flags.add_string("grow", &text.grow, "limit: final live bytes; phase: live bytes after the jump");
}

void finish_workload_flags(const rt_bench::Flags& flags, WorkloadParams& p, const WorkloadFlagText& text) {
  const auto& names = workload_names();
  if (std::find(names.begin(), names.end(), p.name) == names.end())
    flags.fail("invalid value \"" + p.name + "\" for flag -workload: want window, trees, server, limit or phase");
  auto size = [&](const char* name, const std::string& t, int64_t* out) {
    if (!parse_size(t, out)) flags.fail("invalid value \"" + t + "\" for flag -" + name + ": want a byte size such as 65536, 64KiB or 64MiB");
  };
  size("live", text.live, &p.live);
  size("msg", text.msg, &p.msg);
  size("grow", text.grow, &p.grow);
  if (p.msg < 1 || p.msg > (64 << 20)) flags.fail("invalid value \"" + text.msg + "\" for flag -msg: want 1 byte to 64MiB");
  if (p.depth < 1 || p.depth > 24) flags.fail("invalid value " + std::to_string(p.depth) + " for flag -depth: want 1 to 24");
  if (p.workers < 1 || p.workers > 1024) flags.fail("invalid value " + std::to_string(p.workers) + " for flag -workers: want 1 to 1024");
}

WorkloadResult run_workload(const WorkloadParams& params, const std::function<void()>& measure) {
  WorkloadParams p = params;
  if (p.count == 0) p.count = p.name == "trees" ? 30 : p.name == "server" ? 100000 : 200000;
  size_t msg = static_cast<size_t>(p.msg);
  auto slots = [msg](int64_t bytes) { return std::max<size_t>(1, static_cast<size_t>(bytes) / msg); };
  size_t live = slots(p.live), grow = slots(p.grow);
  uint64_t count = static_cast<uint64_t>(std::max<int64_t>(p.count, 1));
  if (p.name == "window") return run_window(p, [live](uint64_t) { return live; }, live, measure);
  if (p.name == "limit")
    return run_window(
        p, [=](uint64_t i) { return live + static_cast<size_t>((static_cast<double>(grow) - live) * i / count); },
        std::max(live, grow), measure);
  if (p.name == "phase")
    return run_window(p, [=](uint64_t i) { return i < count / 2 ? live : grow; }, std::max(live, grow), measure);
  if (p.name == "trees") return run_trees(p, measure);
  return run_server(p, measure);
}

}  // namespace lab

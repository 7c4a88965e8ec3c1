// The MMU computation (mmu.h): the trace's utilization as a step function
// (busy-P counts between change points), its running integral at the
// steps, and for each window size the lowest window mean over the window
// starts where an edge meets a step.
#include "tools/lab/mmu.h"

#include <algorithm>
#include <map>

namespace lab {

namespace {

using rt::trace::Event;
using rt::trace::Kind;

// The mutator's share from `t` until the next step: mutator Ps (0 during a
// pause), out of gomaxprocs.
struct Step {
  int64_t t;
  int64_t mutator_ps;
};

bool takes_a_p(Kind k, const MmuOptions& opt) {
  switch (k) {
    case Kind::kMarkWorkerDedicated:
    case Kind::kMarkWorkerFractional:
    case Kind::kAssist:
      return true;
    case Kind::kMarkWorkerIdle:
      return opt.count_idle_workers;
    default:
      return false;
  }
}

bool is_pause(Kind k) { return k == Kind::kStwSweepTermination || k == Kind::kStwMarkTermination; }

// Steps covering [t0, t1], the first at t0; times relative to t0.
std::vector<Step> utilization(const std::vector<Event>& ev, int64_t procs, uint64_t t0, uint64_t t1,
                              const MmuOptions& opt) {
  struct Change {
    int64_t t;
    int32_t p;      // INT32_MIN: a pause
    int32_t delta;  // +1 opens, -1 closes
  };
  std::vector<Change> ch;
  int32_t unowned = -1;  // a span with no P is a P of its own
  for (const Event& e : ev) {
    bool pause = is_pause(e.kind);
    if (!pause && !takes_a_p(e.kind, opt)) continue;
    int32_t p = pause ? INT32_MIN : e.p >= 0 ? e.p : --unowned;
    int64_t a = static_cast<int64_t>(std::clamp(e.ts_ns, t0, t1) - t0);
    int64_t b = static_cast<int64_t>(std::clamp(e.ts_ns + e.dur_ns, t0, t1) - t0);
    if (a == b) continue;
    ch.push_back({a, p, +1});
    ch.push_back({b, p, -1});
  }
  std::sort(ch.begin(), ch.end(), [](const Change& x, const Change& y) { return x.t < y.t; });
  std::map<int32_t, int32_t> open;  // P -> open spans
  int32_t pauses = 0;
  std::vector<Step> steps{{0, procs}};
  for (size_t i = 0; i < ch.size();) {
    int64_t t = ch[i].t;
    for (; i < ch.size() && ch[i].t == t; i++) {
      if (ch[i].p == INT32_MIN) {
        pauses += ch[i].delta;
        continue;
      }
      int32_t& n = open[ch[i].p];
      n += ch[i].delta;
      if (n == 0) open.erase(ch[i].p);
    }
    int64_t busy = pauses > 0 ? procs : std::min<int64_t>(procs, static_cast<int64_t>(open.size()));
    int64_t m = procs - busy;
    if (steps.back().t == t) {
      steps.back().mutator_ps = m;
    } else if (steps.back().mutator_ps != m) {
      steps.push_back({t, m});
    }
  }
  return steps;
}

// Mutator P-nanoseconds in [0, x]: prefix[i] is the integral up to
// steps[i].t.
struct Integral {
  const std::vector<Step>& steps;
  std::vector<int64_t> prefix;
  explicit Integral(const std::vector<Step>& s) : steps(s), prefix(s.size()) {
    for (size_t i = 1; i < s.size(); i++)
      prefix[i] = prefix[i - 1] + (s[i].t - s[i - 1].t) * s[i - 1].mutator_ps;
  }
  int64_t at(int64_t x) const {
    auto it = std::upper_bound(steps.begin(), steps.end(), x,
                               [](int64_t v, const Step& s) { return v < s.t; });
    size_t i = static_cast<size_t>(it - steps.begin()) - 1;  // steps[0].t == 0 <= x
    return prefix[i] + (x - steps[i].t) * steps[i].mutator_ps;
  }
};

}  // namespace

std::vector<MmuPoint> mmu_curve(const std::vector<Event>& ev, int gomaxprocs,
                                const std::vector<uint64_t>& windows_ns, const MmuOptions& opt) {
  std::vector<MmuPoint> out;
  uint64_t t0 = opt.t0_ns, t1 = opt.t1_ns;
  if (t0 == 0 && t1 == 0) {
    if (ev.empty()) return out;
    t0 = UINT64_MAX;
    for (const Event& e : ev) {
      t0 = std::min(t0, e.ts_ns);
      t1 = std::max(t1, e.ts_ns + e.dur_ns);
    }
  }
  if (t1 <= t0) return out;
  int64_t procs = std::max(gomaxprocs, 1);
  std::vector<Step> steps = utilization(ev, procs, t0, t1, opt);
  Integral integral(steps);
  int64_t span = static_cast<int64_t>(t1 - t0);
  std::vector<int64_t> starts;
  for (uint64_t window : windows_ns) {
    if (window == 0) {
      out.push_back({0, 0.0});
      continue;
    }
    int64_t w = std::min<int64_t>(static_cast<int64_t>(std::min<uint64_t>(window, INT64_MAX)), span);
    // The window mean is linear in its start between the starts where an
    // edge meets a step: the lowest is at one of those (or an end).
    int64_t last = span - w;
    starts.clear();
    starts.push_back(0);
    starts.push_back(last);
    for (const Step& s : steps) {
      if (s.t <= last) starts.push_back(s.t);
      if (s.t - w >= 0 && s.t - w <= last) starts.push_back(s.t - w);
    }
    int64_t lowest = INT64_MAX;
    for (int64_t a : starts) lowest = std::min(lowest, integral.at(a + w) - integral.at(a));
    out.push_back({window, static_cast<double>(lowest) / (static_cast<double>(w) * static_cast<double>(procs))});
  }
  return out;
}

std::vector<MmuPoint> mmu_curve(const std::vector<Event>& ev, int gomaxprocs,
                                const std::vector<uint64_t>& windows_ns) {
  return mmu_curve(ev, gomaxprocs, windows_ns, MmuOptions{});
}

std::vector<uint64_t> default_windows() {
  std::vector<uint64_t> w;
  for (uint64_t decade = 100'000; decade <= 1'000'000'000; decade *= 10) {
    w.push_back(decade);
    w.push_back(2 * decade);
    w.push_back(5 * decade);
  }
  w.push_back(10'000'000'000);
  return w;
}

}  // namespace lab

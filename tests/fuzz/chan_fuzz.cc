// The channel fuzzer: random programs of send / recv / close / try-send /
// try-recv / select on a few channels, run on the real scheduler and
// checked against Go's channel semantics.
//
// Input bytes decode into a program (chan_program.h). Two kinds of check,
// each sound whatever the interleaving:
//   - single mode: one goroutine runs every operation and each outcome is
//     compared with a sequential model (buffer contents, ok flags, the
//     panics "send on closed channel", "close of closed channel", "close
//     of nil channel", a select firing only a ready case and its default
//     only when none is). An operation the model says blocks forever is
//     skipped.
//   - multi mode: 2-5 goroutines run their share of the operations; every
//     sent value is unique (sender, sequence). A coordinator goroutine
//     waits until the workers finish or stop making progress, then closes
//     every channel, which unblocks every worker; it drains the buffers
//     and checks invariants that hold under any interleaving: every value
//     received was sent on that channel and is received exactly once,
//     sent = received + left in the buffer, each receiver sees one
//     sender's values in order (and what is left over comes after all of
//     them), a closed-and-drained receive gives 0/false only after a close
//     began and never a value after it, send panics only after a close
//     began, exactly one close succeeds per channel. Workers that still
//     run 20 s after every channel closed fail the run (a lost wake-up).
// Any failed check prints the program and aborts (libFuzzer keeps the
// input as a crash file).
//
// Built two ways (tests/fuzz/CMakeLists.txt): with clang's libFuzzer
// (CHANFUZZ_LIBFUZZER, RT_FUZZ=ON), and as a plain driver in every test
// build that replays the corpus and runs seeded random programs.
//
// Outside namespace rt: the workers must stay preemptible.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "rt/chan.h"
#include "rt/panic.h"
#include "rt/sched.h"
#include "tests/body_runner.h"
#include "tests/fuzz/chan_program.h"

namespace chanfuzz {
namespace {

const Program* g_current = nullptr;  // for failure reports

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "chan fuzz: CHECK FAILED: %s\nprogram: %s", what.c_str(),
               g_current ? describe(*g_current).c_str() : "(none)\n");
  std::fflush(stderr);
  std::abort();
}

// Runs f; returns the message of the rt::Panic it threw, if any. Any
// other exception is a failure.
template <typename F>
std::optional<std::string> panic_of(F&& f) {
  try {
    f();
  } catch (const rt::Panic& p) {
    return std::string(p.what());
  } catch (const std::exception& e) {
    fail(std::string("unexpected exception: ") + e.what());
  }
  return std::nullopt;
}

// What a select did: the case that fired (-1: the default) and, for a
// receive case, what it received.
struct SelectOutcome {
  int fired = -2;
  int value = 0;
  bool ok = false;
};

// Builds the select's cases one by one (each case has its own type) and
// runs rt::select over them; returns rt::select's result.
template <int D, typename... Cases>
int run_select(rt::Chan<int>* chans, const Op& op, const int* send_values, SelectOutcome& out, Cases&&... cases) {
  if constexpr (D < 3) {
    if (D < op.ncases) {
      const SelectCaseSpec& c = op.cases[D];
      if (c.is_send) {
        return run_select<D + 1>(chans, op, send_values, out, std::forward<Cases>(cases)...,
                                 rt::send_case(chans[c.chan], send_values[D], [&out] { out.fired = D; }));
      }
      return run_select<D + 1>(chans, op, send_values, out, std::forward<Cases>(cases)...,
                               rt::recv_case(chans[c.chan], [&out](int v, bool ok) {
                                 out.fired = D;
                                 out.value = v;
                                 out.ok = ok;
                               }));
    }
  }
  if (op.kind == OpKind::kSelectDefault) {
    return rt::select(std::forward<Cases>(cases)..., rt::default_case([&out] { out.fired = -1; }));
  }
  return rt::select(std::forward<Cases>(cases)...);
}

// Runs a select and checks that rt::select's result names the case whose
// function ran.
SelectOutcome do_select(rt::Chan<int>* chans, const Op& op, const int* send_values) {
  SelectOutcome out;
  int r = run_select<0>(chans, op, send_values, out);
  int expect = out.fired == -1 ? op.ncases : out.fired;
  if (r != expect) fail("select returned " + std::to_string(r) + " but case " + std::to_string(out.fired) + " ran");
  return out;
}

// --- single mode: every outcome against the sequential model ----------------

struct ModelChan {
  bool nil = false;
  int cap = 0;
  bool closed = false;
  std::deque<int> buf;
  // Go: a send proceeds (or panics) on a closed channel or with room; a
  // receive with a buffered value or on a closed channel. With one
  // goroutine nobody waits on the other side.
  bool send_ready() const { return !nil && (closed || static_cast<int>(buf.size()) < cap); }
  bool recv_ready() const { return !nil && (closed || !buf.empty()); }
  // The receive's result once ready: the head, or 0/false when closed.
  std::pair<int, bool> take() {
    if (buf.empty()) return {0, false};
    int v = buf.front();
    buf.pop_front();
    return {v, true};
  }
};

void expect_panic(const std::optional<std::string>& got, const char* want, const std::string& where) {
  if (!want && got) fail(where + ": unexpected panic \"" + *got + "\"");
  if (want && !got) fail(where + ": expected panic \"" + want + "\", got none");
  if (want && *got != want) fail(where + ": expected panic \"" + want + "\", got \"" + *got + "\"");
}

void expect_recv(std::pair<int, bool> got, std::pair<int, bool> want, const std::string& where) {
  if (got != want) {
    fail(where + ": received (" + std::to_string(got.first) + ", " + (got.second ? "true" : "false") +
         "), model says (" + std::to_string(want.first) + ", " + (want.second ? "true" : "false") + ")");
  }
}

void run_single(const Program& p) {
  rt::Chan<int> chans[3];
  ModelChan model[3];
  for (int c = 0; c < p.nchans; c++) {
    model[c].nil = p.nil[c];
    model[c].cap = p.caps[c];
    if (!p.nil[c]) chans[c] = rt::make_chan<int>(p.caps[c]);
  }
  for (size_t i = 0; i < p.ops.size(); i++) {
    const Op& op = p.ops[i];
    const std::string where = "op " + std::to_string(i) + " (" + kind_name(op.kind) + ")";
    rt::Chan<int>& ch = chans[op.chan];
    ModelChan& m = model[op.chan];
    const int value = static_cast<int>(i) * 4 + 1;  // distinct per op and select case
    switch (op.kind) {
      case OpKind::kSend: {
        if (!m.send_ready()) break;  // would block forever
        expect_panic(panic_of([&] { ch.send(value); }), m.closed ? "send on closed channel" : nullptr, where);
        if (!m.closed) m.buf.push_back(value);
        break;
      }
      case OpKind::kRecv: {
        if (!m.recv_ready()) break;
        expect_recv(ch.recv2(), m.take(), where);
        break;
      }
      case OpKind::kClose: {
        const char* want = m.nil ? "close of nil channel" : m.closed ? "close of closed channel" : nullptr;
        expect_panic(panic_of([&] { ch.close(); }), want, where);
        if (!m.nil) m.closed = true;
        break;
      }
      case OpKind::kTrySend: {
        bool sent = false;
        int v = value;
        expect_panic(panic_of([&] { sent = ch.try_send(v); }),
                     !m.nil && m.closed ? "send on closed channel" : nullptr, where);
        bool want = !m.nil && !m.closed && static_cast<int>(m.buf.size()) < m.cap;
        if (sent != want) fail(where + ": try_send returned " + (sent ? "true" : "false"));
        if (sent) m.buf.push_back(value);
        break;
      }
      case OpKind::kTryRecv: {
        int out = -1;
        auto r = ch.try_recv(out);
        using TR = rt::Chan<int>::TryRecv;
        TR want = !m.recv_ready() ? TR::kEmpty : m.buf.empty() ? TR::kClosed : TR::kReceived;
        if (r != want) fail(where + ": try_recv gave " + std::to_string(static_cast<int>(r)));
        if (r == TR::kReceived) expect_recv({out, true}, m.take(), where);
        break;
      }
      case OpKind::kSelect:
      case OpKind::kSelectDefault: {
        bool ready[3] = {}, any = false, closed_send_ready = false;
        int send_values[3];
        for (int j = 0; j < op.ncases; j++) {
          const ModelChan& cm = model[op.cases[j].chan];
          ready[j] = op.cases[j].is_send ? cm.send_ready() : cm.recv_ready();
          any |= ready[j];
          closed_send_ready |= op.cases[j].is_send && ready[j] && cm.closed;
          send_values[j] = value + j;
        }
        if (op.kind == OpKind::kSelect && !any) break;  // would block forever
        SelectOutcome out;
        auto panic = panic_of([&] { out = do_select(chans, op, send_values); });
        if (panic) {
          // Only a ready send case on a closed channel may have been chosen.
          if (!closed_send_ready) fail(where + ": unexpected panic \"" + *panic + "\"");
          expect_panic(panic, "send on closed channel", where);
          break;
        }
        if (out.fired == -1) {
          if (any) fail(where + ": the default ran while a case was ready");
          break;
        }
        if (out.fired < 0 || out.fired >= op.ncases || !ready[out.fired]) {
          fail(where + ": case " + std::to_string(out.fired) + " fired but was not ready");
        }
        const SelectCaseSpec& c = op.cases[out.fired];
        ModelChan& cm = model[c.chan];
        if (c.is_send) {
          if (cm.closed) fail(where + ": a send case on a closed channel fired without a panic");
          cm.buf.push_back(send_values[out.fired]);
        } else {
          expect_recv({out.value, out.ok}, cm.take(), where);
        }
        break;
      }
      case OpKind::kProbe: {
        size_t want_cap = m.nil ? 0 : m.cap;
        if (ch.len() != m.buf.size() || ch.cap() != want_cap) {
          fail(where + ": len/cap " + std::to_string(ch.len()) + "/" + std::to_string(ch.cap()) + ", model " +
               std::to_string(m.buf.size()) + "/" + std::to_string(want_cap));
        }
        break;
      }
    }
  }
}

// --- multi mode: invariants under any interleaving ---------------------------

constexpr int kValueBase = 100000;  // value = (worker + 1) * kValueBase + sequence
int sender_of(int v) { return v / kValueBase - 1; }
int seq_of(int v) { return v % kValueBase; }

struct WorkerLog {
  std::vector<int> sent[3];   // values whose send completed, per channel
  std::vector<int> recvd[3];  // values received (ok), per channel, in order
  bool saw_closed[3] = {};    // got 0/false from the channel
};

struct MultiRun {
  const Program* p;
  rt::Chan<int> chans[3];
  std::atomic<bool> close_started[3] = {};
  std::atomic<int> closes_ok[3] = {};
  std::atomic<int> progress{0};
  std::atomic<int> finished{0};
  std::vector<WorkerLog> logs;
};

// A send panics only on a closed channel: some close of one of the
// channels it sent on must have begun.
void check_send_panic(MultiRun& r, const std::optional<std::string>& panic, const std::vector<int>& chans,
                      const std::string& where) {
  if (!panic) return;
  if (*panic != "send on closed channel") fail(where + ": unexpected panic \"" + *panic + "\"");
  for (int c : chans) {
    if (r.close_started[c].load()) return;
  }
  fail(where + ": \"send on closed channel\" before any close of its channel began");
}

void note_recv(MultiRun& r, WorkerLog& log, int c, int v, bool ok, const std::string& where) {
  if (!ok) {
    if (v != 0) fail(where + ": closed receive gave " + std::to_string(v) + ", not 0");
    if (!r.close_started[c].load()) fail(where + ": closed receive before any close began");
    log.saw_closed[c] = true;
    return;
  }
  if (log.saw_closed[c]) fail(where + ": value " + std::to_string(v) + " after the channel was closed and drained");
  log.recvd[c].push_back(v);
}

void run_worker(MultiRun& r, int w) {
  WorkerLog& log = r.logs[w];
  int seq = 0;
  for (size_t i = 0; i < r.p->ops.size(); i++) {
    const Op& op = r.p->ops[i];
    if (op.worker != w) continue;
    const std::string where = "op " + std::to_string(i) + " (w" + std::to_string(w) + " " + kind_name(op.kind) + ")";
    rt::Chan<int>& ch = r.chans[op.chan];
    const int c = op.chan;
    switch (op.kind) {
      case OpKind::kSend: {
        int v = (w + 1) * kValueBase + ++seq;
        auto panic = panic_of([&] { ch.send(v); });
        check_send_panic(r, panic, {c}, where);
        if (!panic) log.sent[c].push_back(v);
        break;
      }
      case OpKind::kRecv: {
        auto [v, ok] = ch.recv2();
        note_recv(r, log, c, v, ok, where);
        break;
      }
      case OpKind::kClose: {
        r.close_started[c] = true;
        auto panic = panic_of([&] { ch.close(); });
        if (panic && *panic != "close of closed channel") fail(where + ": unexpected panic \"" + *panic + "\"");
        if (!panic) r.closes_ok[c]++;
        break;
      }
      case OpKind::kTrySend: {
        int v = (w + 1) * kValueBase + ++seq;
        bool sent = false;
        auto panic = panic_of([&] { sent = ch.try_send(v); });
        check_send_panic(r, panic, {c}, where);
        if (sent) log.sent[c].push_back(v);
        break;
      }
      case OpKind::kTryRecv: {
        int out = 0;
        auto res = ch.try_recv(out);
        if (res == rt::Chan<int>::TryRecv::kReceived) note_recv(r, log, c, out, true, where);
        if (res == rt::Chan<int>::TryRecv::kClosed) note_recv(r, log, c, 0, false, where);
        break;
      }
      case OpKind::kSelect:
      case OpKind::kSelectDefault: {
        int send_values[3];
        for (int j = 0; j < op.ncases; j++) send_values[j] = (w + 1) * kValueBase + ++seq;
        SelectOutcome out;
        auto panic = panic_of([&] { out = do_select(r.chans, op, send_values); });
        if (panic) {
          std::vector<int> send_chans;
          for (int j = 0; j < op.ncases; j++) {
            if (op.cases[j].is_send) send_chans.push_back(op.cases[j].chan);
          }
          if (send_chans.empty()) fail(where + ": a select without send cases panicked: " + *panic);
          check_send_panic(r, panic, send_chans, where);
          break;
        }
        if (out.fired < 0) break;
        const SelectCaseSpec& sc = op.cases[out.fired];
        if (sc.is_send) {
          log.sent[sc.chan].push_back(send_values[out.fired]);
        } else {
          note_recv(r, log, sc.chan, out.value, out.ok, where);
        }
        break;
      }
      case OpKind::kProbe:
        rt::gosched();
        break;
    }
    r.progress++;
  }
}

using Clock = std::chrono::steady_clock;

void run_multi(const Program& p) {
  MultiRun r;
  r.p = &p;
  r.logs.resize(p.nworkers);
  for (int c = 0; c < p.nchans; c++) r.chans[c] = rt::make_chan<int>(p.caps[c]);
  for (int w = 0; w < p.nworkers; w++) {
    rt::go([&r, w] {
      run_worker(r, w);
      r.finished++;
    });
  }
  // Let the workers run until they finish or stop making progress (the
  // rest of their operations block). Closing early is sound, only less
  // interesting: the checks hold whenever the close comes.
  int last = -1, quiet = 0;
  const auto give_up = Clock::now() + std::chrono::seconds(2);
  while (r.finished.load() < p.nworkers && quiet < 2000 && Clock::now() < give_up) {
    rt::gosched();
    int now = r.progress.load();
    quiet = now == last ? quiet + 1 : 0;
    last = now;
  }
  for (int c = 0; c < p.nchans; c++) {
    r.close_started[c] = true;
    auto panic = panic_of([&] { r.chans[c].close(); });
    if (panic && *panic != "close of closed channel") fail("final close: unexpected panic \"" + *panic + "\"");
    if (!panic) r.closes_ok[c]++;
  }
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (r.finished.load() < p.nworkers) {
    if (Clock::now() > deadline) {
      fail(std::to_string(p.nworkers - r.finished.load()) + " workers still blocked 20 s after every channel closed");
    }
    rt::gosched();
  }

  for (int c = 0; c < p.nchans; c++) {
    const std::string where = "channel c" + std::to_string(c);
    if (r.closes_ok[c].load() != 1) fail(where + ": " + std::to_string(r.closes_ok[c].load()) + " closes succeeded");
    // Closed: the buffer drains, then 0/false.
    std::vector<int> left;
    for (;;) {
      auto [v, ok] = r.chans[c].recv2();
      if (!ok) {
        if (v != 0) fail(where + ": drained receive gave " + std::to_string(v));
        break;
      }
      left.push_back(v);
      if (static_cast<int>(left.size()) > p.caps[c]) fail(where + ": more values left than the capacity");
    }
    // Every completed send is received exactly once or left in the buffer.
    std::map<int, int> count;
    for (const WorkerLog& log : r.logs) {
      for (int v : log.sent[c]) count[v] += 1;
    }
    auto take = [&](int v, const char* how) {
      auto it = count.find(v);
      if (it == count.end()) fail(where + ": " + how + " value " + std::to_string(v) + " that was never sent on it");
      if (it->second != 1) fail(where + ": value " + std::to_string(v) + " " + how + " twice");
      it->second = 0;
    };
    // One sender's values reach each receiver in order, and what is left
    // comes after everything any receiver got from that sender.
    std::vector<int> max_seq(p.nworkers, 0);
    for (const WorkerLog& log : r.logs) {
      std::vector<int> last_seq(p.nworkers, 0);
      for (int v : log.recvd[c]) {
        take(v, "received");
        int s = sender_of(v);
        if (seq_of(v) <= last_seq[s]) fail(where + ": a receiver got sender " + std::to_string(s) + "'s values out of order");
        last_seq[s] = seq_of(v);
        max_seq[s] = std::max(max_seq[s], seq_of(v));
      }
    }
    std::vector<int> last_left(p.nworkers, 0);
    for (int v : left) {
      take(v, "left over");
      int s = sender_of(v);
      if (seq_of(v) <= max_seq[s] || seq_of(v) <= last_left[s]) {
        fail(where + ": left-over value " + std::to_string(v) + " out of its sender's order");
      }
      last_left[s] = seq_of(v);
    }
    for (auto& [v, n] : count) {
      if (n != 0) fail(where + ": value " + std::to_string(v) + " was sent but never received nor left over");
    }
  }
}

// --- the runtime: one long-lived main goroutine runs the programs ----------

// gotest::BodyRunner (tests/body_runner.h): its main goroutine runs one
// program after another and waits in a syscall scope in between, so the
// deadlock detector stays quiet while the fuzzer prepares the next input.

void run_input(const uint8_t* data, size_t size) {
  Program p = decode(data, size);
  gotest::BodyRunner::get().run([&] {
    g_current = &p;
    if (rt::gomaxprocs() != p.procs) rt::gomaxprocs(p.procs);
    if (p.multi) {
      run_multi(p);
    } else {
      run_single(p);
    }
    g_current = nullptr;
  });
}

}  // namespace
}  // namespace chanfuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  chanfuzz::run_input(data, size);
  return 0;
}

#ifndef CHANFUZZ_LIBFUZZER
// The plain driver: replays files (or every file of a directory), then
// runs --random N seeded random programs.
//   rt-chan-fuzz [--random N] [--seed S] [FILE|DIR]...
int main(int argc, char** argv) {
  long random_runs = 0;
  unsigned long seed = 1;
  std::vector<std::filesystem::path> files;
  auto bad = [](const std::string& what) {
    std::fprintf(stderr, "rt-chan-fuzz: %s (usage: rt-chan-fuzz [--random N] [--seed S] [FILE|DIR]...)\n", what.c_str());
    std::exit(2);
  };
  auto number = [&](int& i, const char* flag) {
    if (i + 1 >= argc) bad(std::string(flag) + " needs a value");
    char* end = nullptr;
    long v = std::strtol(argv[++i], &end, 10);
    if (*argv[i] == '\0' || *end != '\0' || v < 0) bad(std::string(flag) + " wants a non-negative integer, got '" + argv[i] + "'");
    return v;
  };
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--random") {
      random_runs = number(i, "--random");
    } else if (a == "--seed") {
      seed = static_cast<unsigned long>(number(i, "--seed"));
    } else if (a.rfind("-", 0) == 0) {
      bad("unknown flag '" + a + "'");
    } else if (std::filesystem::is_directory(a)) {
      for (const auto& e : std::filesystem::directory_iterator(a)) files.push_back(e.path());
    } else if (std::filesystem::exists(a)) {
      files.emplace_back(a);
    } else {
      bad("no such file '" + a + "'");
    }
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  }
  std::mt19937_64 rng(seed);
  for (long i = 0; i < random_runs; i++) {
    std::vector<uint8_t> bytes(3 + rng() % 48);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  }
  std::printf("rt-chan-fuzz: %zu files and %ld random programs passed\n", files.size(), random_runs);
  return 0;
}
#endif

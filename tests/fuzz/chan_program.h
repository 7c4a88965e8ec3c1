// The channel fuzzer's input format: bytes decoded into a small program of
// channel operations (chan_fuzz.cc runs and checks it).
//
// Every byte string decodes to some valid program, so libFuzzer's
// mutations never waste a run. Layout:
//   byte 0  config: bit 0 multi-goroutine mode; bits 1-2 channel count
//           (1..3); bit 3 GOMAXPROCS 1 or 2; bits 4-5 worker count - 2
//           (multi mode: 2..5 goroutines)
//   byte 1  capacities: two bits per channel (0..3)
//   byte 2  nil mask (single mode only): bit i makes channel i nil
//   then    operations, one byte each (plus two for a select):
//           bits 0-2 kind, bits 3-4 channel (mod count), bits 5-7 the
//           worker that runs it (mod worker count); a select's two extra
//           bytes give its case count (2 + bit 0), each case's direction
//           (bit 1 + j: send) and channel (two bits per case of the second
//           byte, mod count).
// Missing bytes read as zero. At most kMaxOps operations.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace chanfuzz {

enum class OpKind : uint8_t {
  kSend,           // ch.send(v)
  kRecv,           // ch.recv2()
  kClose,          // ch.close()
  kTrySend,        // ch.try_send(v)
  kTryRecv,        // ch.try_recv(out)
  kSelect,         // select over 2-3 cases, blocking
  kSelectDefault,  // the same with a default case
  kProbe,          // single mode: len()/cap() against the model; multi: gosched
};

struct SelectCaseSpec {
  bool is_send;
  int chan;
};

struct Op {
  OpKind kind;
  int chan;
  int worker;
  int ncases = 0;
  SelectCaseSpec cases[3] = {};
};

struct Program {
  bool multi = false;
  int nchans = 1;
  int procs = 1;
  int nworkers = 1;
  int caps[3] = {0, 0, 0};
  bool nil[3] = {false, false, false};
  std::vector<Op> ops;
};

inline constexpr size_t kMaxOps = 64;

inline Program decode(const uint8_t* data, size_t size) {
  size_t pos = 0;
  auto next = [&]() -> uint8_t { return pos < size ? data[pos++] : 0; };
  Program p;
  uint8_t config = next();
  p.multi = config & 1;
  p.nchans = ((config >> 1) & 3) % 3 + 1;
  p.procs = (config >> 3) & 1 ? 2 : 1;
  p.nworkers = p.multi ? ((config >> 4) & 3) + 2 : 1;
  uint8_t caps = next();
  for (int i = 0; i < 3; i++) p.caps[i] = (caps >> (2 * i)) & 3;
  uint8_t nils = next();
  // Nil channels block forever, so the multi-goroutine mode (which ends
  // every program by closing all channels) has none.
  for (int i = 0; i < 3; i++) p.nil[i] = !p.multi && ((nils >> i) & 1);
  while (pos < size && p.ops.size() < kMaxOps) {
    uint8_t b = next();
    Op op;
    op.kind = static_cast<OpKind>(b & 7);
    op.chan = ((b >> 3) & 3) % p.nchans;
    op.worker = (b >> 5) % p.nworkers;
    if (op.kind == OpKind::kSelect || op.kind == OpKind::kSelectDefault) {
      uint8_t shape = next(), chans = next();
      op.ncases = 2 + (shape & 1);
      for (int j = 0; j < op.ncases; j++) {
        op.cases[j].is_send = (shape >> (1 + j)) & 1;
        op.cases[j].chan = ((chans >> (2 * j)) & 3) % p.nchans;
      }
    }
    p.ops.push_back(op);
  }
  return p;
}

inline const char* kind_name(OpKind k) {
  static const char* const names[] = {"send", "recv", "close", "try_send", "try_recv", "select", "select+default", "probe"};
  return names[static_cast<int>(k)];
}

// The program in words, for failure reports.
inline std::string describe(const Program& p) {
  std::string s = std::string(p.multi ? "multi" : "single") + " procs=" + std::to_string(p.procs) +
                  " workers=" + std::to_string(p.nworkers) + " chans:";
  for (int i = 0; i < p.nchans; i++) {
    s += " c" + std::to_string(i) + (p.nil[i] ? "(nil)" : "(cap " + std::to_string(p.caps[i]) + ")");
  }
  s += "\n";
  for (size_t i = 0; i < p.ops.size(); i++) {
    const Op& op = p.ops[i];
    s += "  " + std::to_string(i) + ": w" + std::to_string(op.worker) + " " + kind_name(op.kind);
    if (op.ncases) {
      for (int j = 0; j < op.ncases; j++) {
        s += std::string(op.cases[j].is_send ? " send c" : " recv c") + std::to_string(op.cases[j].chan);
      }
    } else {
      s += " c" + std::to_string(op.chan);
    }
    s += "\n";
  }
  return s;
}

}  // namespace chanfuzz

// Symbol tables of the running program: which code is librt's, which is the
// platform's, which is the user's, and the name of the function around a PC.
//
// symtab_init() runs once, outside any signal handler. It walks the loaded
// objects with dl_iterate_phdr, records their executable segments, and
// reads the ELF symbol table of the main executable (/proc/self/exe) and of
// every other object from its file (.symtab, else .dynsym). Every FUNC
// symbol becomes an address range (adjusted by the object's load bias).
// The tables are then frozen: built once, published with a release store,
// never changed or freed. Lookups are binary searches over them and are
// async-signal-safe (no locks, no allocation, no system calls).
//
// Classification of a PC, used by asynchronous preemption:
//   kUser     - inside a sized FUNC symbol of the main executable, which
//               has a .symtab, and the function is not "unsafe" (below).
//               As preempt.h says, user code is the executable's: code in
//               other shared objects is never kUser, though their symbols
//               are read (for names, and to mark librt code linked into
//               them as kRuntime);
//   kRuntime  - inside an unsafe function: librt's own code, i.e. a mangled
//               name in namespace rt (_ZN2rt, _ZNK2rt, _ZZN2rt, with any
//               cv/ref qualifier, thunks and TLS wrappers included, and so
//               every template instantiated from rt, wherever it was
//               emitted), an extern "C" name starting with rt_; or code of
//               a runtime linked statically into the executable (sanitizer
//               runtimes, the C++ ABI and unwinder, the loader's helpers),
//               recognised by name;
//   kPlatform - inside an executable segment of a platform shared object
//               (libc, libstdc++, libgcc_s, libm, the loader, the vDSO,
//               mimalloc, Boost, spdlog, fmt, the sanitizer runtimes, ...);
//   kUnknown  - anything else: no loaded object, an object loaded after
//               symtab_init (dlopen), code outside sized symbols (PLT stubs,
//               _init), other shared objects, a stripped executable.
// A stripped executable (no .symtab, only the exported .dynsym) cannot be
// told apart from librt's code inside it, so none of it is kUser: such a
// program is never preempted asynchronously (cooperative preemption still
// works). Strip debug information only (strip -g / --strip-debug keeps
// .symtab) if asynchronous preemption matters. Without /proc the
// executable's symbols cannot be read, with the same result.
//
// Code the compiler inlines into a function of namespace rt counts as
// librt's, even a user lambda's body inlined into an rt template that
// invokes it. The thunks that run a goroutine's function or rt::run's
// main function (lambdas of rt::go, rt::run and rt::sched::Task) are
// therefore listed in symtab.cc as user code: they only forward to the
// user's callable. Any other rt template that invokes user callables keeps
// the inlined user code non-preemptible (cooperative preemption still
// applies), unless it is added there or moved out of namespace rt.
//
// Names: symtab_lookup() finds the enclosing FUNC symbol of any object read
// (platform objects from their .dynsym), for goroutine dumps.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rt::sched {

// Builds the tables. Idempotent and thread-safe; not async-signal-safe
// (opens files, maps them, allocates). The files stay mapped read-only for
// the life of the process: symbol names point into them.
void symtab_init();
// True once symtab_init() has published the tables. Async-signal-safe.
bool symtab_ready();

enum class PcClass : uint8_t { kUnknown, kUser, kRuntime, kPlatform };
// Async-signal-safe. kUnknown before symtab_init().
PcClass symtab_classify(uintptr_t pc);

// The mangled name of the FUNC symbol around `pc` (any object whose symbols
// were read), or nullptr; *offset (if given) gets pc - symbol start.
// Async-signal-safe once symtab_init() has run (nullptr before).
const char* symtab_lookup(uintptr_t pc, uintptr_t* offset);

// Does this symbol name mark code that must never be preempted
// asynchronously (librt's, or a statically linked runtime's)? Exposed for
// tests.
bool symtab_is_unsafe_name(const char* name);

struct SymtabStats {
  bool exe_has_symtab = false;  // false: the executable is stripped
  size_t objects = 0;           // loaded objects seen by dl_iterate_phdr
  size_t platform_objects = 0;
  size_t exec_segments = 0;  // executable PT_LOAD segments, all objects
  size_t functions = 0;      // named FUNC symbols kept for symtab_lookup
  size_t user_ranges = 0;    // merged ranges of kUser functions
  size_t unsafe_ranges = 0;  // merged ranges of unsafe functions
};
SymtabStats symtab_stats();

}  // namespace rt::sched

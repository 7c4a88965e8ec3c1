// Symbol tables of the running program. See symtab.h for what is recorded
// and how a PC is classified.
//
// Building (symtab_init, once, under g_init_lock):
//   1. dl_iterate_phdr lists the loaded objects: for each, its load bias,
//      its executable PT_LOAD segments, and whether it is the main program
//      (its program headers are AT_PHDR), the vDSO (it maps
//      AT_SYSINFO_EHDR) or another platform object (by file name).
//   2. Each object's file (/proc/self/exe for the main program) is mapped
//      read-only and its .symtab (else .dynsym) is scanned for defined
//      FUNC / IFUNC symbols in executable sections. A symbol without a
//      size (hand-written assembly without .size, _init) extends to the
//      next symbol inside its section: enough to name it or to refuse
//      preemption in it, never enough to allow preemption (so PLT stubs,
//      which follow _init, and unsized code are never user code).
//   3. Three sorted arrays result: all functions with their names (for
//      symtab_lookup; aliases at one address keep the plainest name), the
//      merged ranges of functions that may be user code (sized functions of
//      the main executable, if it has a .symtab, whose names are not
//      unsafe), and the merged ranges of unsafe functions (librt's and
//      statically linked runtimes', from every non-platform object). The
//      few rt thunks that only run a user callable (kUserThunkPrefixes)
//      are not unsafe.
//   4. The Tables record, holding raw pointers and counts, is published
//      with a release store. It and the arrays are never freed or changed.
//
// Lookups acquire-load the Tables pointer and binary-search plain arrays:
// no locks, no allocation, no system calls, so they are async-signal-safe.
// They are also kept free of sanitizer instrumentation under TSan (the
// preemption handler runs them where TSan's runtime may be interrupted):
// no calls to out-of-line library code, only loads.
//
// Invariants: arrays are sorted by start address; merged ranges are
// disjoint and non-adjacent; every function range lies inside one
// executable segment of its object.
#include "sched/symtab.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/lock.h"
#include "runtime/tsan.h"

namespace rt::sched {
namespace {

struct Range {
  uintptr_t lo, hi;
};

struct Segment {
  uintptr_t lo, hi;
  bool platform;
};

struct Func {
  uintptr_t lo, hi;
  const char* name;
};

struct Tables {
  const Segment* segs = nullptr;  // executable segments of all objects
  size_t nsegs = 0;
  const Range* user = nullptr;  // functions that may be user code
  size_t nuser = 0;
  const Range* unsafe = nullptr;  // librt's and static runtimes' functions
  size_t nunsafe = 0;
  const Func* funcs = nullptr;  // all named functions, for symtab_lookup
  size_t nfuncs = 0;
  SymtabStats stats;
};

// Written once (release) by symtab_init; read with acquire.
const Tables* g_tables = nullptr;
rt::detail::Lock g_init_lock;

// --- name rules ---------------------------------------------------------------

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

// Skips an Itanium <call-offset> ("h<n>_" or "v<n>_<n>_") at p; nullptr if
// malformed.
const char* skip_call_offset(const char* p) {
  int parts;
  if (*p == 'h') {
    parts = 1;
  } else if (*p == 'v') {
    parts = 2;
  } else {
    return nullptr;
  }
  p++;
  for (int i = 0; i < parts; i++) {
    if (*p == 'n') p++;
    if (*p < '0' || *p > '9') return nullptr;
    while (*p >= '0' && *p <= '9') p++;
    if (*p != '_') return nullptr;
    p++;
  }
  return p;
}

// Namespaces of statically linkable runtimes whose code must not be
// interrupted to park a goroutine (they hold internal locks or per-thread
// state across their code).
constexpr std::string_view kUnsafeNamespaces[] = {
    "rt",       "__asan",      "__tsan",         "__ubsan",    "__lsan",  "__msan",
    "__hwasan", "__sanitizer", "__interception", "__cxxabiv1", "__scudo",
};

// C names of the same kind (prefixes). rt_ covers librt's extern "C" entry
// points (rt_async_preempt_trampoline, rt_async_preempt_park, ...).
constexpr std::string_view kUnsafeCPrefixes[] = {
    "rt_",
    "__asan",
    "__tsan",
    "__ubsan",
    "__lsan",
    "__msan",
    "__hwasan",
    "__sanitizer",
    "__interceptor_",
    "___interceptor_",
    "__interception",
    "__cxa_",
    "__gxx_personality",
    "__gcc_personality",
    "_Unwind_",
    "__libc_",
    "_dl_",
    "__tls_get_addr",
    "__morestack",
};

// Functions of namespace rt that only forward to the user's callable, into
// which the compiler inlines that callable's body: the goroutine's function
// (a compute loop above all) runs inside them. They are user code. Keep
// this list in step with the public headers and sched/task.h.
constexpr std::string_view kUserThunkPrefixes[] = {
    "_ZZN2rt2goI",           // rt::go<F>: its invoke and delete lambdas
    "_ZZN2rt3runI",          // rt::run<F>: the lambdas that call main_fn
    "_ZN2rt5sched4TaskUl",   // rt::sched::Task: invoke/destroy/move lambdas
    "_ZNK2rt5sched4TaskUl",  // ... and their call operators
};

}  // namespace

bool symtab_is_unsafe_name(const char* name) {
  if (!name) return false;
  std::string_view s(name);
  for (std::string_view p : kUserThunkPrefixes)
    if (starts_with(s, p)) return false;
  if (!starts_with(s, "_Z")) {
    for (std::string_view p : kUnsafeCPrefixes)
      if (starts_with(s, p)) return true;
    return false;
  }
  const char* p = name + 2;
  // Special names that name a function of some class or namespace:
  // thunks (Th, Tv, Tc) and thread_local wrappers / initialisers (TW, TH).
  if (p[0] == 'T') {
    if (p[1] == 'h' || p[1] == 'v') {
      p = skip_call_offset(p + 1);
    } else if (p[1] == 'c') {
      p = skip_call_offset(p + 2);
      if (p) p = skip_call_offset(p);
    } else if (p[1] == 'W' || p[1] == 'H') {
      p += 2;
    } else {
      return false;
    }
    if (!p) return false;
  }
  // A local entity (lambda, local class, static local's guard function) is
  // named after its enclosing function: judge that one.
  if (*p == 'Z') p++;
  if (*p != 'N') return false;
  p++;
  while (*p == 'r' || *p == 'V' || *p == 'K') p++;  // cv-qualifiers
  if (*p == 'R' || *p == 'O') p++;                  // ref-qualifier
  // The outermost scope: <length><identifier>.
  if (*p < '1' || *p > '9') return false;
  size_t len = 0;
  while (*p >= '0' && *p <= '9') len = len * 10 + static_cast<size_t>(*p++ - '0');
  if (len > 64) return false;
  std::string_view scope(p, strnlen(p, len));
  if (scope.size() != len) return false;
  for (std::string_view ns : kUnsafeNamespaces)
    if (scope == ns) return true;
  return false;
}

namespace {

// --- building -----------------------------------------------------------------

// Basenames (prefixes) of the platform's shared objects: code there is never
// user code.
constexpr std::string_view kPlatformPrefixes[] = {
    "libc.so",     "libstdc++", "libgcc_s",  "libm.so",    "ld-linux",  "linux-vdso",
    "libmimalloc", "libboost",  "libspdlog", "libfmt",     "libasan",   "libtsan",
    "libubsan",    "liblsan",   "libhwasan", "libpthread", "libdl.so",  "librt.so",
    "libatomic",   "libunwind", "libgomp",   "libmvec",    "libresolv", "libnss_",
};

bool is_platform_name(std::string_view path) {
  size_t slash = path.rfind('/');
  std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  for (std::string_view p : kPlatformPrefixes)
    if (starts_with(base, p)) return true;
  return false;
}

struct Object {
  std::string path;  // file to read symbols from; empty: none (the vDSO)
  uintptr_t bias = 0;
  bool main = false;
  bool platform = false;
  std::vector<Range> exec;  // executable PT_LOAD segments (biased)
};

int collect_object(dl_phdr_info* info, size_t, void* arg) {
  auto* objs = static_cast<std::vector<Object>*>(arg);
  Object o;
  o.bias = info->dlpi_addr;
  const char* name = info->dlpi_name ? info->dlpi_name : "";
  uintptr_t at_phdr = getauxval(AT_PHDR);
  uintptr_t vdso = getauxval(AT_SYSINFO_EHDR);
  o.main = at_phdr != 0 && reinterpret_cast<uintptr_t>(info->dlpi_phdr) == at_phdr;
  bool is_vdso = false;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    uintptr_t lo = o.bias + ph.p_vaddr, hi = lo + ph.p_memsz;
    if (vdso != 0 && vdso >= lo && vdso < hi) is_vdso = true;
    if (ph.p_flags & PF_X) o.exec.push_back({lo, hi});
  }
  if (o.main) {
    o.path = "/proc/self/exe";
  } else if (is_vdso || is_platform_name(name)) {
    o.platform = true;
    if (!is_vdso) o.path = name;
  } else {
    o.path = name;  // may be empty: no file to read, so no user code
  }
  objs->push_back(std::move(o));
  return 0;
}

struct RawFunc {
  uintptr_t lo, hi;
  uintptr_t sec_end;  // end of its (executable) section
  const char* name;
  uint8_t rank;  // lower is a better name for an address with aliases
  bool sized;    // the symbol has a size (st_size != 0)
};

uint8_t name_rank(const char* name, unsigned bind) {
  uint8_t r = 0;
  while (name[r] == '_' && r < 8) r++;
  return static_cast<uint8_t>(r * 2 + (bind == STB_LOCAL ? 1 : 0));
}

// Maps `path` and appends its FUNC symbols (biased) to *out. Returns
// whether a .symtab (not just .dynsym) was found. The mapping is kept:
// names point into it.
bool read_symbols(const Object& o, std::vector<RawFunc>* out) {
  int fd = open(o.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(sizeof(ElfW(Ehdr)))) {
    close(fd);
    return false;
  }
  size_t size = static_cast<size_t>(st.st_size);
  void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return false;
  const auto* base = static_cast<const unsigned char*>(map);
  bool keep = false, has_symtab = false;

  auto in_file = [size](uint64_t off, uint64_t len) { return off <= size && len <= size - off; };
  const auto* eh = reinterpret_cast<const ElfW(Ehdr)*>(base);
  do {
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64) break;
    if (eh->e_shoff == 0 || eh->e_shentsize != sizeof(ElfW(Shdr))) break;
    const auto* sh = reinterpret_cast<const ElfW(Shdr)*>(base + eh->e_shoff);
    if (!in_file(eh->e_shoff, sizeof(ElfW(Shdr)))) break;
    uint64_t shnum = eh->e_shnum != 0 ? eh->e_shnum : sh[0].sh_size;  // extended numbering
    if (shnum > size / sizeof(ElfW(Shdr)) || !in_file(eh->e_shoff, shnum * sizeof(ElfW(Shdr))))
      break;
    const ElfW(Shdr)* symsec = nullptr;
    for (uint64_t i = 0; i < shnum; i++)
      if (sh[i].sh_type == SHT_SYMTAB) symsec = &sh[i];
    has_symtab = symsec != nullptr;
    if (!symsec)
      for (uint64_t i = 0; i < shnum; i++)
        if (sh[i].sh_type == SHT_DYNSYM) symsec = &sh[i];
    if (!symsec || symsec->sh_entsize != sizeof(ElfW(Sym)) || symsec->sh_link >= shnum) break;
    const ElfW(Shdr)& strsec = sh[symsec->sh_link];
    if (strsec.sh_type != SHT_STRTAB || strsec.sh_size == 0 ||
        !in_file(symsec->sh_offset, symsec->sh_size) || !in_file(strsec.sh_offset, strsec.sh_size))
      break;
    const char* strtab = reinterpret_cast<const char*>(base + strsec.sh_offset);
    if (strtab[strsec.sh_size - 1] != '\0') break;  // every name is terminated inside
    const auto* syms = reinterpret_cast<const ElfW(Sym)*>(base + symsec->sh_offset);
    size_t nsyms = symsec->sh_size / sizeof(ElfW(Sym));
    for (size_t i = 0; i < nsyms; i++) {
      const ElfW(Sym)& s = syms[i];
      unsigned type = ELF64_ST_TYPE(s.st_info);
      if (type != STT_FUNC && type != STT_GNU_IFUNC) continue;
      if (s.st_shndx == SHN_UNDEF || s.st_shndx >= SHN_LORESERVE || s.st_shndx >= shnum) continue;
      if (s.st_name == 0 || s.st_name >= strsec.sh_size) continue;
      const ElfW(Shdr)& sec = sh[s.st_shndx];
      if (!(sec.sh_flags & SHF_EXECINSTR)) continue;
      const char* name = strtab + s.st_name;
      uintptr_t lo = o.bias + s.st_value;
      out->push_back({lo, lo + s.st_size, o.bias + sec.sh_addr + sec.sh_size, name,
                      name_rank(name, ELF64_ST_BIND(s.st_info)), s.st_size != 0});
      keep = true;
    }
  } while (false);
  if (!keep) munmap(map, size);
  return has_symtab && keep;
}

// Sorts and merges ranges in place (adjacent ones too).
void merge(std::vector<Range>* v) {
  std::sort(v->begin(), v->end(), [](const Range& a, const Range& b) { return a.lo < b.lo; });
  size_t n = 0;
  for (const Range& r : *v) {
    if (r.hi <= r.lo) continue;
    if (n > 0 && r.lo <= (*v)[n - 1].hi) {
      (*v)[n - 1].hi = std::max((*v)[n - 1].hi, r.hi);
    } else {
      (*v)[n++] = r;
    }
  }
  v->resize(n);
}

// Copies a vector into an array that lives forever.
template <typename T>
const T* freeze(const std::vector<T>& v) {
  if (v.empty()) return nullptr;
  T* a = new T[v.size()];
  std::copy(v.begin(), v.end(), a);
  return a;
}

const Tables* build() {
  std::vector<Object> objs;
  dl_iterate_phdr(collect_object, &objs);

  auto* t = new Tables();
  std::vector<Segment> segs;
  std::vector<Range> user, unsafe;
  std::vector<Func> funcs;
  for (const Object& o : objs) {
    t->stats.objects++;
    if (o.platform) t->stats.platform_objects++;
    for (const Range& r : o.exec) segs.push_back({r.lo, r.hi, o.platform});
    if (o.path.empty()) continue;
    std::vector<RawFunc> raw;
    bool has_symtab = read_symbols(o, &raw);
    if (o.main) t->stats.exe_has_symtab = has_symtab;
    // Sort by address, best name first among aliases; give sizeless
    // symbols the room up to the next symbol inside their section and
    // segment; drop symbols outside every executable segment.
    std::sort(raw.begin(), raw.end(), [](const RawFunc& a, const RawFunc& b) {
      if (a.lo != b.lo) return a.lo < b.lo;
      if (a.rank != b.rank) return a.rank < b.rank;
      return std::strlen(a.name) < std::strlen(b.name);
    });
    for (size_t i = 0; i < raw.size(); i++) {
      RawFunc& f = raw[i];
      const Range* seg = nullptr;
      for (const Range& r : o.exec)
        if (f.lo >= r.lo && f.lo < r.hi) seg = &r;
      if (!seg) {
        f.hi = f.lo;  // dropped below
        continue;
      }
      uintptr_t limit = std::min(f.sec_end, seg->hi);
      if (!f.sized) {
        size_t j = i + 1;
        while (j < raw.size() && raw[j].lo == f.lo) j++;
        f.hi = j < raw.size() ? std::min(raw[j].lo, limit) : limit;
      }
      f.hi = std::min(f.hi, limit);
    }
    for (size_t i = 0; i < raw.size(); i++) {
      const RawFunc& f = raw[i];
      if (f.hi <= f.lo) continue;
      if (!o.platform) {
        // A sizeless symbol's extent is a guess: good enough to refuse
        // preemption or to name a frame, not to allow preemption.
        bool bad = symtab_is_unsafe_name(f.name);
        if (bad) unsafe.push_back({f.lo, f.hi});
        if (!bad && has_symtab && f.sized && o.main) user.push_back({f.lo, f.hi});
      }
      // One name per address: the best-ranked alias comes first. An alias
      // with a larger size is kept for its extent in the user/unsafe sets
      // above, not as a second name.
      if (funcs.empty() || funcs.back().lo != f.lo) funcs.push_back({f.lo, f.hi, f.name});
    }
  }
  std::sort(segs.begin(), segs.end(),
            [](const Segment& a, const Segment& b) { return a.lo < b.lo; });
  merge(&user);
  merge(&unsafe);
  std::sort(funcs.begin(), funcs.end(), [](const Func& a, const Func& b) { return a.lo < b.lo; });

  t->segs = freeze(segs);
  t->nsegs = segs.size();
  t->user = freeze(user);
  t->nuser = user.size();
  t->unsafe = freeze(unsafe);
  t->nunsafe = unsafe.size();
  t->funcs = freeze(funcs);
  t->nfuncs = funcs.size();
  t->stats.exec_segments = segs.size();
  t->stats.functions = funcs.size();
  t->stats.user_ranges = user.size();
  t->stats.unsafe_ranges = unsafe.size();
  return t;
}

// --- lookups (async-signal-safe, uninstrumented) --------------------------

RT_NO_TSAN const Tables* tables() {
  return __atomic_load_n(&g_tables, __ATOMIC_ACQUIRE);
}

// Index of the last element with lo <= pc, or n if none. T has a `lo`.
template <typename T>
RT_NO_TSAN inline size_t find_le(const T* a, size_t n, uintptr_t pc) {
  size_t lo = 0, hi = n;  // answer in [lo, hi): first element with lo > pc
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (a[mid].lo <= pc) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo == 0 ? n : lo - 1;
}

RT_NO_TSAN bool in_ranges(const Range* a, size_t n, uintptr_t pc) {
  size_t i = find_le(a, n, pc);
  return i < n && pc < a[i].hi;
}

}  // namespace

void symtab_init() {
  if (symtab_ready()) return;
  rt::detail::LockGuard lk(g_init_lock);
  if (__atomic_load_n(&g_tables, __ATOMIC_RELAXED)) return;
  __atomic_store_n(&g_tables, build(), __ATOMIC_RELEASE);
}

RT_NO_TSAN bool symtab_ready() {
  return tables() != nullptr;
}

RT_NO_TSAN PcClass symtab_classify(uintptr_t pc) {
  const Tables* t = tables();
  if (!t || pc == 0) return PcClass::kUnknown;
  size_t i = find_le(t->segs, t->nsegs, pc);
  if (i == t->nsegs || pc >= t->segs[i].hi) return PcClass::kUnknown;
  if (t->segs[i].platform) return PcClass::kPlatform;
  if (in_ranges(t->unsafe, t->nunsafe, pc)) return PcClass::kRuntime;
  if (in_ranges(t->user, t->nuser, pc)) return PcClass::kUser;
  return PcClass::kUnknown;
}

RT_NO_TSAN const char* symtab_lookup(uintptr_t pc, uintptr_t* offset) {
  const Tables* t = tables();
  if (!t) return nullptr;
  size_t i = find_le(t->funcs, t->nfuncs, pc);
  if (i == t->nfuncs || pc >= t->funcs[i].hi) return nullptr;
  if (offset) *offset = pc - t->funcs[i].lo;
  return t->funcs[i].name;
}

SymtabStats symtab_stats() {
  const Tables* t = tables();
  return t ? t->stats : SymtabStats{};
}

}  // namespace rt::sched

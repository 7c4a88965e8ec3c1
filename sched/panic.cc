// Uncaught exceptions in goroutines. See panic.h.
#include "sched/panic.h"

#include <cxxabi.h>
#include <execinfo.h>
#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <typeinfo>

#include "runtime/fatal.h"
#include "sched/proc.h"
#include "sched/traceback.h"

namespace rt::sched {

namespace {

std::terminate_handler g_prev_terminate = nullptr;

[[noreturn]] void on_terminate() {
  G* g = getg();
  std::exception_ptr ep = std::current_exception();
  if (!g || !ep) {
    if (g_prev_terminate) g_prev_terminate();
    abort();
  }
  rt::detail::FixedText t;
  t << "panic: ";
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    t << e.what();
    const std::type_info& ti = typeid(e);
    int status = 0;
    char* name = abi::__cxa_demangle(ti.name(), nullptr, nullptr, &status);
    t << " [" << (status == 0 && name ? name : ti.name()) << "]";
    free(name);
  } catch (...) {
    const std::type_info* ti = abi::__cxa_current_exception_type();
    int status = 0;
    char* name = ti ? abi::__cxa_demangle(ti->name(), nullptr, nullptr, &status) : nullptr;
    t << "exception of type " << (name ? name : (ti ? ti->name() : "unknown"));
    free(name);
  }
  t << "\n\ngoroutine " << g->id << " [running]:\n";
  t.write_to(2);
  print_current_backtrace(2);
  _exit(2);
}

}  // namespace

void install_panic_handler() {
  std::terminate_handler prev = std::set_terminate(on_terminate);
  if (prev != on_terminate) g_prev_terminate = prev;
}

void run_goroutine_body(G* g) { g->task(); }

}  // namespace rt::sched

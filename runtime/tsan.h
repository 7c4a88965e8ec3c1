// ThreadSanitizer support, empty in every other build.
//
// RT_NO_TSAN keeps a function uninstrumented: code on the SIGURG handler
// path (which may interrupt TSan's own runtime), functions that never
// return (whose function-entry record would stay on the fiber's shadow
// stack), and accesses TSan would be told about wrongly (lock.h).
#pragma once

#if defined(RT_TSAN)
#include <sanitizer/tsan_interface.h>
#define RT_NO_TSAN __attribute__((no_sanitize("thread")))
#else
#define RT_NO_TSAN
#endif

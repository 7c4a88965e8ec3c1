// The scavenger: returns free heap pages to the OS in the background.
//
// As in Go's mgcscavenge.go: a background thread releases free, resident
// pages (64 KiB at a time, highest addresses first) while the heap's
// retained memory (mapped minus released) is above a goal, and paces itself
// to about 1% of one CPU by sleeping 99x as long as it worked. Until the
// pacer sets a goal, the goal is Go's GOGC-less rule: keep 10% over the
// bytes in use by spans.
#pragma once

#include <cstddef>

namespace rt::alloc {

void start_scavenger();
// Sets the retained-bytes goal; 0 restores the default rule.
void set_scavenge_goal(size_t retained_bytes);
// The goal now in force, in bytes of retained heap memory.
size_t scavenge_goal();
// Nudges the background scavenger to re-check its goal now.
void wake_scavenger();
// Releases free pages synchronously, down to the goal if `to_goal`, else all
// of them. Returns bytes released.
size_t scavenge_now(bool to_goal);
// Releases up to `bytes` of free pages now (allocation-time scavenging
// over the memory limit). Returns bytes released.
size_t scavenge_bytes(size_t bytes);
// Total bytes the scavenger (background and synchronous) has released.
size_t scavenged_total();

}  // namespace rt::alloc

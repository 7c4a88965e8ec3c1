// OS memory: the only place the allocator talks to the kernel.
//
// States a range of address space moves through, as in Go's mem.go:
//   reserved  - mapped PROT_NONE: owned by us, not usable, costs no memory;
//   ready     - read/write; pages become resident when first touched;
//   released  - read/write but handed back with MADV_DONTNEED: no longer
//               resident, reads as zero when touched again.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rt::alloc {

// Reserves `size` bytes aligned to `align` (a power of two >= page size).
// Returns nullptr if the kernel refuses.
void* sys_reserve(size_t size, size_t align);
// Makes a reserved range usable (read/write). Returns false on failure.
bool sys_map(void* addr, size_t size);
// Returns a ready range's physical pages to the OS (it stays usable and
// reads as zero afterwards).
void sys_release(void* addr, size_t size);
// Maps fresh zeroed read/write memory for runtime metadata that is never
// returned (MAP_NORESERVE: only touched pages cost memory). nullptr on failure.
void* sys_alloc_metadata(size_t size);
// Resident set size of the whole process in bytes (from /proc/self/statm).
size_t sys_resident_bytes();

}  // namespace rt::alloc

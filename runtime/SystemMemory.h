//===- SystemMemory.h - this machine's memory, and bytes for people -*- C++ -*-===//
//
// Memory is checked before it is needed: racc compile and racc interpret
// compare what they will use with what the machine has, and rarun names the
// bytes an allocation needed when it fails. One place for both halves.
//
//===----------------------------------------------------------------------===//
#ifndef RA_RUNTIME_SYSTEMMEMORY_H
#define RA_RUNTIME_SYSTEMMEMORY_H

#include <cstdint>
#include <string>

namespace ra::rt {

/// Bytes of physical memory of this machine (0 if unknown).
uint64_t physicalMemoryBytes();

/// "512 B", "12.3 MiB", "1.50 GiB".
std::string formatBytes(double bytes);

} // namespace ra::rt

#endif // RA_RUNTIME_SYSTEMMEMORY_H

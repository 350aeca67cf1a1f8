//===- SystemMemory.cpp - this machine's memory, and bytes for people ----===//
#include "runtime/SystemMemory.h"

#include <fmt/format.h>
#include <unistd.h>

namespace ra::rt {

uint64_t physicalMemoryBytes() {
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? uint64_t(pages) * uint64_t(size) : 0;
}

std::string formatBytes(double bytes) {
  constexpr double kMiB = 1 << 20, kGiB = 1 << 30;
  if (bytes >= kGiB)
    return fmt::format("{:.2f} GiB", bytes / kGiB);
  if (bytes >= kMiB)
    return fmt::format("{:.1f} MiB", bytes / kMiB);
  if (bytes >= 1024)
    return fmt::format("{:.1f} KiB", bytes / 1024);
  return fmt::format("{} B", int64_t(bytes));
}

} // namespace ra::rt

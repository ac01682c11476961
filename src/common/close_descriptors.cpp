#include "common/close_descriptors.h"

#include <sys/resource.h>
#include <unistd.h>

namespace viasock {
namespace {

// close_range(2) over [first, last]; an empty range needs no call (the
// kernel would refuse it, and the caller would fall back to the loop).
bool close_span(unsigned first, unsigned last) { return first > last || close_range(first, last, 0) == 0; }

}  // namespace

void close_descriptors_from(int first, int keep) {
  if (keep < first) keep = -1;
  unsigned from = static_cast<unsigned>(first);
  bool closed =
      keep < 0 ? close_span(from, ~0U)
               : close_span(from, static_cast<unsigned>(keep) - 1) && close_span(static_cast<unsigned>(keep) + 1, ~0U);
  if (closed) return;
  // No close_range: every descriptor up to the limit, bounded for a limit
  // raised to millions (or unlimited).
  rlimit limit;
  rlim_t end = getrlimit(RLIMIT_NOFILE, &limit) == 0 ? limit.rlim_cur : 65536;
  if (end > (1 << 20)) end = 1 << 20;
  for (rlim_t fd = from; fd < end; ++fd)
    if (static_cast<int>(fd) != keep) close(static_cast<int>(fd));
}

}  // namespace viasock

#include "cli/suggest.h"

#include <algorithm>

namespace viasock {

size_t edit_distance(const std::string& a, const std::string& b) {
  // Damerau's optimal string alignment: three rows of the table.
  std::vector<size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        current[j] = std::min(current[j], before[j - 2] + 1);
    }
    before.swap(previous);
    previous.swap(current);
  }
  return previous[b.size()];
}

std::string closest(const std::string& word, const std::vector<std::string>& candidates) {
  size_t allowed = word.size() <= 4 ? 1 : word.size() <= 8 ? 2 : 3;
  std::string best, prefixed;
  size_t best_distance = allowed + 1, prefix_count = 0;
  for (const std::string& candidate : candidates) {
    size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
    if (word.size() >= 2 && candidate.starts_with(word)) {
      ++prefix_count;
      prefixed = candidate;
    }
  }
  if (!best.empty()) return best;
  return prefix_count == 1 ? prefixed : "";
}

}  // namespace viasock

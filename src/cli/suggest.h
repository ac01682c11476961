// "Did you mean": the known word closest to a mistyped one.
#pragma once

#include <string>
#include <vector>

namespace viasock {

// Levenshtein distance (insert, delete, substitute; a swap of neighbours
// counts as one edit, as typos go).
size_t edit_distance(const std::string& a, const std::string& b);

// The candidate nearest to `word` when it is near enough to be a typo (at
// most 1 edit for words of up to 4 letters, 2 up to 8, then 3) or when
// `word` is a unique prefix of it; "" otherwise.
std::string closest(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace viasock

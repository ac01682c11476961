// A reader for the flat JSON objects viasock itself writes (run/<ID>.json
// and a daemon's status): string, number and boolean values, and arrays of
// strings. Not a general JSON parser.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace viasock {

struct FlatJson {
  std::map<std::string, std::string> scalars;  // strings unescaped; numbers and booleans as written
  std::map<std::string, std::vector<std::string>> arrays;

  std::string text(const std::string& key) const;
  double number(const std::string& key) const;
};

// False when `text` is not such an object.
bool parse_flat_json(const std::string& text, FlatJson* out);

}  // namespace viasock

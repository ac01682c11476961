#include "common/flat_json.h"

#include <cstdlib>

namespace viasock {
namespace {

class Reader {
 public:
  explicit Reader(const std::string& text) : text_(text) {}

  bool object(FlatJson* out) {
    if (!take('{')) return false;
    if (take('}')) return true;
    do {
      std::string key;
      if (!string(&key) || !take(':')) return false;
      if (peek() == '[') {
        if (!array(&out->arrays[key])) return false;
      } else if (peek() == '"') {
        if (!string(&out->scalars[key])) return false;
      } else if (!bare(&out->scalars[key])) {
        return false;
      }
    } while (take(','));
    return take('}');
  }

 private:
  char peek() {
    while (pos_ < text_.size() && isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }
  bool take(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }

  bool array(std::vector<std::string>* out) {
    if (!take('[')) return false;
    if (take(']')) return true;
    do {
      out->emplace_back();
      if (!string(&out->back())) return false;
    } while (take(','));
    return take(']');
  }

  // Escapes as json_quote writes them: \" \\ \n \t and \u00XX for one byte.
  bool string(std::string* out) {
    if (!take('"')) return false;
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == '"') return true;
      if (c != '\\') {
        *out += c;
        continue;
      }
      if (pos_ >= text_.size()) return false;
      char e = text_[pos_++];
      if (e == 'n') *out += '\n';
      else if (e == 't') *out += '\t';
      else if (e == 'u' && pos_ + 4 <= text_.size()) {
        *out += static_cast<char>(std::strtol(text_.substr(pos_, 4).c_str(), nullptr, 16));
        pos_ += 4;
      } else *out += e;
    }
    return false;
  }

  bool bare(std::string* out) {
    peek();
    size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '}' &&
           !isspace(static_cast<unsigned char>(text_[pos_])))
      ++pos_;
    *out = text_.substr(start, pos_ - start);
    return !out->empty();
  }

  const std::string& text_;
  size_t pos_ = 0;
};

}  // namespace

std::string FlatJson::text(const std::string& key) const {
  auto it = scalars.find(key);
  return it == scalars.end() ? "" : it->second;
}

double FlatJson::number(const std::string& key) const { return std::atof(text(key).c_str()); }

bool parse_flat_json(const std::string& text, FlatJson* out) { return Reader(text).object(out); }

}  // namespace viasock

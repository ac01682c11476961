#include "server/tool_profile.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/unique_fd.h"

namespace viasock {
namespace {

constexpr int kVersion = 1;
// A profile is a few hundred bytes; anything larger is not one.
constexpr size_t kMaxProfile = 64 * 1024;

std::string file_name(const std::string& id) { return id + ".learned"; }

std::string to_hex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
  auto digit = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
  if (hex.empty() || hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int high = digit(hex[i]), low = digit(hex[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
  }
  return out;
}

}  // namespace

bool ToolProfile::operator==(const ToolProfile& other) const {
  auto same_format = [](const std::optional<RecordFormat>& a, const std::optional<RecordFormat>& b) {
    if (a.has_value() != b.has_value()) return false;
    return !a || (a->kind == b->kind && a->regex == b->regex);
  };
  return stdout_kind == other.stdout_kind && stateful == other.stateful &&
         same_format(output_format, other.output_format);
}

std::string encode_profile(const ToolProfile& profile) {
  nlohmann::json json = {
      {"version", kVersion},
      {"stdout", profile.stdout_kind == StdoutKind::kTerminal ? "terminal" : "pipe"},
      {"stateful", profile.stateful},
  };
  if (!profile.output_format) {
    json["answers"] = "lock-step";
  } else if (profile.output_format->kind == RecordFormat::kLine) {
    json["answers"] = "lines";
  } else if (profile.output_format->kind == RecordFormat::kNull) {
    json["answers"] = "null";
  } else {
    json["answers"] = "regex";
    // Learned regexes come from the tool's output, which need not be
    // UTF-8 (JSON strings must be): kept as hex.
    json["regex_hex"] = to_hex(profile.output_format->regex);
  }
  return json.dump() + "\n";
}

std::optional<ToolProfile> decode_profile(std::string_view text) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_object() || json.value("version", 0) != kVersion) return std::nullopt;
  ToolProfile profile;
  std::string kind = json.value("stdout", "");
  if (kind != "pipe" && kind != "terminal") return std::nullopt;
  profile.stdout_kind = kind == "terminal" ? StdoutKind::kTerminal : StdoutKind::kPipe;
  auto stateful = json.find("stateful");
  if (stateful == json.end() || !stateful->is_boolean()) return std::nullopt;
  profile.stateful = stateful->get<bool>();
  std::string answers = json.value("answers", "");
  if (answers == "lines") {
    profile.output_format = RecordFormat{};
  } else if (answers == "null") {
    profile.output_format = RecordFormat{RecordFormat::kNull, ""};
  } else if (answers == "regex") {
    std::optional<std::string> regex = from_hex(json.value("regex_hex", ""));
    if (!regex) return std::nullopt;
    RecordFormat format{RecordFormat::kRegex, *regex};
    if (!check_record_format(format).empty()) return std::nullopt;
    profile.output_format = format;
  } else if (answers != "lock-step") {
    return std::nullopt;
  }
  return profile;
}

std::optional<ToolProfile> read_profile(int dir_fd, const std::string& id) {
  if (dir_fd < 0) return std::nullopt;
  UniqueFd fd(openat(dir_fd, file_name(id).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return std::nullopt;
  std::string text(kMaxProfile + 1, '\0');
  size_t used = 0;
  while (used < text.size()) {
    ssize_t n = read(fd.get(), text.data() + used, text.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += static_cast<size_t>(n);
  }
  if (used > kMaxProfile) return std::nullopt;
  text.resize(used);
  return decode_profile(text);
}

bool write_profile(int dir_fd, const std::string& id, const ToolProfile& profile, std::string* error) {
  std::string text = encode_profile(profile);
  std::string temporary = file_name(id) + ".new";
  UniqueFd fd(openat(dir_fd, temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  bool ok = static_cast<bool>(fd) && write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
  if (ok) ok = renameat(dir_fd, temporary.c_str(), dir_fd, file_name(id).c_str()) == 0;
  if (!ok) {
    *error = "cannot write " + file_name(id) + ": " + std::strerror(errno);
    unlinkat(dir_fd, temporary.c_str(), 0);
  }
  return ok;
}

void remove_profile(int dir_fd, const std::string& id) {
  if (dir_fd >= 0) unlinkat(dir_fd, file_name(id).c_str(), 0);
}

}  // namespace viasock

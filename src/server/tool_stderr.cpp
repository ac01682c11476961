#include "server/tool_stderr.h"

#include <spdlog/spdlog.h>

namespace viasock {
namespace {

constexpr size_t kMaxLine = 4096;
constexpr size_t kTailBytes = 4096;
constexpr int kTailLines = 10;

}  // namespace

void ToolStderr::feed(std::string_view bytes, pid_t pid, const Deliver& deliver) {
  tail_.append(bytes);
  if (tail_.size() > kTailBytes) tail_.erase(0, tail_.size() - kTailBytes);
  while (!bytes.empty()) {
    size_t newline = bytes.find('\n');
    size_t take = std::min(newline == std::string_view::npos ? bytes.size() : newline + 1, kMaxLine - line_.size());
    line_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (line_.back() == '\n' || line_.size() >= kMaxLine) emit(pid, deliver);
  }
}

void ToolStderr::flush(pid_t pid, const Deliver& deliver) {
  if (!line_.empty()) emit(pid, deliver);
}

void ToolStderr::emit(pid_t pid, const Deliver& deliver) {
  std::string_view text(line_);
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  spdlog::info("tool[{}]: {}", pid, text);
  deliver(line_);
  line_.clear();
}

std::string ToolStderr::tail() const {
  std::string tail = tail_;
  if (!tail.empty() && tail.back() != '\n') tail += '\n';
  if (tail.empty()) return tail;
  size_t cut = tail.size() - 1;
  for (int lines = 0; lines < kTailLines && cut != std::string::npos && cut > 0; ++lines)
    cut = tail.rfind('\n', cut - 1);
  return cut == std::string::npos || cut == tail.size() - 1 ? tail : tail.substr(cut + 1);
}

}  // namespace viasock

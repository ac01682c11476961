#include "common/call_options.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/wire.h"

namespace viasock {
namespace {

// A field value as a finite, non-negative number, or false.
bool parse_number(std::string_view text, double* value) {
  std::string copy(text);
  char* end = nullptr;
  double parsed = std::strtod(copy.c_str(), &end);
  if (copy.empty() || *end != '\0' || !(parsed >= 0) || std::isnan(parsed)) return false;
  *value = parsed;
  return true;
}

void apply_field(std::string_view key, std::string_view value, CallOptions* options) {
  double number = 0;
  if (!parse_number(value, &number)) return;
  if (key == "timeout")
    options->record_timeout = number;
  else if (key == "idle")
    options->idle_timeout = number;
  else if (key == "instances" && number >= 1 && number <= 1 << 20)
    options->instances = static_cast<int>(number);
  else if (key == "quiet")
    options->quiet_tool = number != 0;
  else if (key == "retry" && number <= kMaxRetries)
    options->retries = static_cast<int>(number);
  else if (key == "attach")
    options->attach = number != 0;
  else if (key == "record" && number >= 1 && number <= 1e18)
    options->max_record = static_cast<uint64_t>(number);
  else if (key == "answer" && number >= 1 && number <= 1e18)
    options->max_answer = static_cast<uint64_t>(number);
}

}  // namespace

CallOptions CallOptions::from(const RunOptions& o) {
  CallOptions call;
  call.record_timeout = o.record_timeout;
  call.idle_timeout = o.idle_timeout;
  call.instances = o.instances;
  call.quiet_tool = o.quiet_tool;
  call.retries = o.retries;
  call.max_record = o.max_record;
  call.max_answer = o.max_answer;
  return call;
}

std::string encode_run_request(const CallOptions& o) {
  std::string request(wire::kRequestRun);
  request += " timeout=" + number_text(o.record_timeout) + " idle=" + number_text(o.idle_timeout) +
             " instances=" + std::to_string(o.instances);
  if (o.quiet_tool) request += " quiet=1";
  if (o.retries > 0) request += " retry=" + std::to_string(o.retries);
  if (o.attach) request += " attach=1";
  if (o.max_record > 0) request += " record=" + std::to_string(o.max_record);
  if (o.max_answer > 0) request += " answer=" + std::to_string(o.max_answer);
  return request;
}

bool decode_run_request(std::string_view request, CallOptions* options) {
  size_t space = request.find(' ');
  if (request.substr(0, space) != wire::kRequestRun) return false;
  *options = CallOptions{};
  while (space != std::string_view::npos) {
    request.remove_prefix(space + 1);
    space = request.find(' ');
    std::string_view field = request.substr(0, space);
    size_t eq = field.find('=');
    if (eq != std::string_view::npos) apply_field(field.substr(0, eq), field.substr(eq + 1), options);
  }
  return true;
}

}  // namespace viasock

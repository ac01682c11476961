#include "client/list_output.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "client/identity_coverage.h"

namespace viasock {
namespace {

std::string duration(double seconds) {
  long s = static_cast<long>(seconds);
  char text[32];
  if (s < 60)
    snprintf(text, sizeof text, "%lds", s);
  else if (s < 3600)
    snprintf(text, sizeof text, "%ldm%02lds", s / 60, s % 60);
  else
    snprintf(text, sizeof text, "%ldh%02ldm", s / 3600, s / 60 % 60);
  return text;
}

std::string count(long long value) { return std::to_string(value); }

// "2" for a fixed pool of two, "2/1:4" for two now of a pool between one
// and four; what the daemon was started with when it does not answer.
std::string instances(const KnownDaemon& d) {
  if (!d.status) return std::to_string(d.info.options.instances);
  const DaemonStatus& s = *d.status;
  std::string text = std::to_string(s.instances);
  if (s.min_instances != s.max_instances) {
    // Appended piece by piece: g++ 12 warns (-Wrestrict) about a string
    // built with operator+ from a literal here once it is inlined.
    text += '/';
    text += std::to_string(s.min_instances);
    text += ':';
    text += std::to_string(s.max_instances);
  }
  return text;
}

// "learned: --pty, an instance per call (remembered)".
std::string learned_line(const DaemonStatus& s) {
  std::string text = "learned: ";
  text += s.learned.empty() ? "pipes, one line per answer" : s.learned.c_str();
  if (s.stateful) text += ", an instance per call";
  if (s.remembered) text += " (remembered from an earlier daemon)";
  return text;
}

}  // namespace

void print_daemon_table(const std::vector<KnownDaemon>& daemons, bool wide, bool verbose) {
  printf("%-12s %7s %-13s %-8s %7s %7s %9s %7s %7s  %s\n", "ID", "PID", "STATE", "TOOLS", "CLIENTS", "CALLS", "RECORDS",
         "UPTIME", "IDLE", "COMMAND");
  for (const KnownDaemon& d : daemons) {
    const DaemonStatus* s = d.status ? &*d.status : nullptr;
    std::string command = command_line(d.info);
    std::string options = distinguishing_options(d.info);
    if (!options.empty()) command += "  [" + options + "]";
    printf("%-12s %7d %-13s %-8s %7s %7s %9s %7s %7s  %s\n", d.info.id.substr(0, 12).c_str(), d.info.pid,
           d.state().c_str(), instances(d).c_str(), s ? count(s->clients).c_str() : "-",
           s ? count(s->calls).c_str() : "-", s ? count(s->records).c_str() : "-",
           s ? duration(s->uptime).c_str() : "-", s ? duration(s->idle).c_str() : "-", command.c_str());
    std::string detail = wide ? "in " + d.info.cwd + "  log " + d.info.log : d.info.log;
    if (!d.alive) detail += "  ('viasock prune' removes it)";
    printf("%22s%s\n", "", detail.c_str());
    if (s && s->learning_done) printf("%22s%s\n", "", learned_line(*s).c_str());
    if (verbose)
      for (const auto& line : identity_coverage(d.info.options, s, true)) printf("%22s%s\n", "", line.c_str());
  }
}

void print_daemon_json(const std::vector<KnownDaemon>& daemons) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const KnownDaemon& d : daemons) {
    const DaemonStatus* s = d.status ? &*d.status : nullptr;
    using Json = nlohmann::ordered_json;
    Json entry = {
        {"id", d.info.id},
        {"pid", d.info.pid},
        {"running", d.alive},
        {"answering", s != nullptr},
        {"state", d.state()},
        {"tool", d.info.options.tool},
        {"args", d.info.options.args},
        {"options", d.info.behaviour},
        {"instances_option", d.info.options.instances},
        {"cwd", d.info.cwd},
        {"host", d.info.host},
        {"state_dir", d.info.state_dir},
        {"socket", d.info.socket},
        {"log", d.info.log},
        {"started", static_cast<long long>(d.info.started)},
        {"clients", s ? Json(s->clients) : Json(nullptr)},
        {"calls", s ? Json(s->calls) : Json(nullptr)},
        {"records", s ? Json(s->records) : Json(nullptr)},
        {"uptime", s ? Json(s->uptime) : Json(nullptr)},
        {"idle", s ? Json(s->idle) : Json(nullptr)},
        {"draining", s ? Json(s->draining) : Json(nullptr)},
        {"current_instances", s ? Json(s->instances) : Json(nullptr)},
        {"min_instances", s ? Json(s->min_instances) : Json(nullptr)},
        {"max_instances", s ? Json(s->max_instances) : Json(nullptr)},
        {"learned", s ? Json(s->learned) : Json(nullptr)},
        {"learning_done", s ? Json(s->learning_done) : Json(nullptr)},
        {"remembered", s ? Json(s->remembered) : Json(nullptr)},
        {"stateful", s ? Json(s->stateful) : Json(nullptr)},
        {"tracking", s ? Json(s->tracking) : Json(nullptr)},
        {"tracked", s ? Json(s->tracked) : Json(nullptr)},
    };
    list.push_back(std::move(entry));
  }
  std::string text = list.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  printf("%s\n", text.c_str());
}

}  // namespace viasock

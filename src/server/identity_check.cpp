#include "server/identity_check.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "common/server_id.h"
#include "common/tool_path.h"
#include "server/clock.h"
#include "server/start_tracker.h"
#include "server/tracked_files_watch.h"

namespace viasock {
namespace {

// The status lists at most this many tracked files (a status is one frame).
constexpr size_t kMaxListed = 10000;

const char* state_name(TrackState state) {
  switch (state) {
    case TrackState::kRecording: return "recording";
    case TrackState::kDone: return "done";
    case TrackState::kRefused: return "refused";
  }
  return "refused";
}

}  // namespace

IdentityCheck::IdentityCheck(asio::io_context& io, RunOptions options, std::string identity, const std::string& own_dir)
    : io_(io), options_(std::move(options)), identity_(std::move(identity)) {
  if (options_.no_track) return;
  tracker_ = std::make_unique<StartTracker>(own_dir);
  // Watched from the end of start-up on, not from the next client: the
  // watch's descriptor is the daemon's for good, as soon as it can be.
  tracker_->set_on_done([this] {
    changed_at_start_ = tracker_->changed_at_start();
    if (!changed_at_start_.empty())
      spdlog::info("{}, which the tool read at start, changed while it started", changed_at_start_);
    watch_ = std::make_unique<TrackedFilesWatch>(tracker_->files());
    if (!watch_->available())
      spdlog::warn("cannot watch the files the tool read at start ({}): a change shows within a second, not at once",
                   watch_->problem());
  });
}

IdentityCheck::~IdentityCheck() { worker_.join(); }

void IdentityCheck::start(std::function<void(bool unchanged)> done) {
  double started = DaemonClock::seconds();
  if (running_ || !pace_.due(started)) return;
  running_ = true;
  // The files are copied on the loop: the worker reads only const members.
  std::vector<FileState> tracked;
  if (tracker_ && tracker_->state() == TrackState::kDone) tracked = tracker_->files();
  asio::post(worker_, [this, started, tracked = std::move(tracked), done = std::move(done)]() mutable {
    ResolvedTool tool = resolve_tool(options_.tool);
    bool unchanged = !tool.path.empty() && compute_server_id(options_, current_context(tool.path)) == identity_;
    if (const FileState* changed = unchanged ? first_changed(tracked) : nullptr) {
      spdlog::info("{}, which the tool read at start, changed", changed->path);
      unchanged = false;
    }
    asio::post(io_, [this, started, unchanged, done = std::move(done)] {
      running_ = false;
      pace_.ran(started, DaemonClock::seconds());
      done(unchanged);
    });
  });
}

bool IdentityCheck::tracked_file_changed() {
  if (!changed_at_start_.empty()) return true;
  if (!watch_) return false;
  const FileState* changed = watch_->changed();
  if (changed) spdlog::info("{}, which the tool read at start, changed", changed->path);
  return changed != nullptr;
}

void IdentityCheck::describe(nlohmann::json& status) const {
  if (!tracker_) {
    status["tracking"] = "off";
    return;
  }
  status["tracking"] = state_name(tracker_->state());
  if (tracker_->state() == TrackState::kRefused) status["tracking_problem"] = tracker_->problem();
  if (tracker_->state() != TrackState::kDone) return;
  std::vector<FileState> files = tracker_->files();
  status["tracked_count"] = files.size();
  nlohmann::json paths = nlohmann::json::array();
  for (size_t i = 0; i < files.size() && i < kMaxListed; ++i) paths.push_back(files[i].path);
  status["tracked"] = std::move(paths);
}

}  // namespace viasock

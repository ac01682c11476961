#include "server/identity_check.h"

#include "common/server_id.h"
#include "common/tool_path.h"

namespace viasock {

IdentityCheck::IdentityCheck(asio::io_context& io, RunOptions options, std::string identity)
    : io_(io), options_(std::move(options)), identity_(std::move(identity)) {}

IdentityCheck::~IdentityCheck() { worker_.join(); }

void IdentityCheck::start(std::function<void(bool unchanged)> done) {
  if (running_) return;
  running_ = true;
  // Only const members are read on the worker; the answer comes back by post.
  asio::post(worker_, [this, done = std::move(done)]() mutable {
    ResolvedTool tool = resolve_tool(options_.tool);
    bool unchanged = !tool.path.empty() && compute_server_id(options_, current_context(tool.path)) == identity_;
    asio::post(io_, [this, unchanged, done = std::move(done)] {
      running_ = false;
      done(unchanged);
    });
  });
}

}  // namespace viasock

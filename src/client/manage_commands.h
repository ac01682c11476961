// `viasock list`, `stop` and `prune`: the daemons registered in a state
// directory (run/<ID>.json) by this host.
#pragma once

#include <string>
#include <vector>

namespace viasock {

struct ManageOptions {
  std::string state_dir;         // as for run: --state-dir, $VIASOCK_DIR, ./.viasock
  bool json = false;             // list --json
  bool all = false;              // stop --all
  std::vector<std::string> ids;  // stop ID-PREFIX...
};

int list_command(const ManageOptions& options);
int stop_command(const ManageOptions& options);
int prune_command(const ManageOptions& options);

}  // namespace viasock

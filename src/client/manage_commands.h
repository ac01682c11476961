// `viasock list`, `stop`, `restart`, `prune` and `logs`: the daemons of this
// host in a state directory or, with --all/--everywhere, every daemon of this
// user (client/daemon_list.h). None of them creates a directory.
#pragma once

#include <string>
#include <vector>

namespace viasock {

struct ManageOptions {
  std::string state_dir;         // as for run: --state-dir, $VIASOCK_DIR, ./.viasock
  bool json = false;             // list --json
  bool ids_only = false;         // list --ids (for shell completion)
  bool verbose = false;          // list -v: what each identity covers
  bool all = false;              // list --all; stop/restart --all
  bool everywhere = false;       // stop/restart/prune --everywhere
  bool follow = false;           // logs -f
  double older_than_days = 7;    // prune --older-than
  std::vector<std::string> ids;  // ID prefixes
};

int list_command(const ManageOptions& options);
int stop_command(const ManageOptions& options);
int restart_command(const ManageOptions& options);
int prune_command(const ManageOptions& options);
int logs_command(const ManageOptions& options);

}  // namespace viasock

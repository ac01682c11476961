// The work that waits for an instance: calls with complete records, in
// round-robin order, and batches to be sent again (--retry).
//
// The queue holds calls weakly: the daemon owns them (Daemon::sessions_),
// and a call that is gone simply drops out of line. Whether a call is in
// line, and whether an instance claimed it (while every call gets an
// instance of its own), is the queue's to know, not the call's.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "server/batch.h"

namespace viasock {

class Session;

class WorkQueue {
 public:
  // `session` has records ready: it joins the back of the line, unless it
  // stands in it already.
  void offer(const std::shared_ptr<Session>& session);
  // The next batch of the first call in line that has records ready and
  // that `admit` lets in (a call it turns away keeps its place at the
  // back). That call goes to the back: the next batch is another's.
  std::shared_ptr<Batch> take(size_t max_bytes, size_t max_records, std::string* bytes,
                              const std::function<bool(Session&)>& admit = {});
  // The calls in line, first to last.
  std::vector<std::shared_ptr<Session>> waiting() const;
  bool empty() const { return line_.empty(); }
  // Another call than `session` has records waiting.
  bool others_waiting(const Session* session) const;

  // One instance per call: the first call in line with records that no
  // instance has claimed yet, now claimed; or null.
  std::shared_ptr<Session> claim();
  void claim(const std::shared_ptr<Session>& session);
  bool claimed(const std::shared_ptr<Session>& session) const;
  // Instances are shared again: every claim is void.
  void release_claims() { claimed_.clear(); }

  // --retry: batches whose tool died with them in flight, sent again alone.
  void retry(std::shared_ptr<Batch> batch) { retries_.push_back(std::move(batch)); }
  bool has_retries() const { return !retries_.empty(); }
  // The next one whose call is still open, or null.
  std::shared_ptr<Batch> take_retry();

 private:
  using Handle = std::weak_ptr<Session>;
  // Ordered by control block, which an expired handle keeps: a new call can
  // never be taken for a gone one that had the same address.
  using HandleSet = std::set<Handle, std::owner_less<Handle>>;
  void push(const std::shared_ptr<Session>& session);
  void forget_gone();

  std::deque<Handle> line_;
  HandleSet in_line_, claimed_;
  std::deque<std::shared_ptr<Batch>> retries_;
};

}  // namespace viasock

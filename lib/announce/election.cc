#include "announce/election.h"

#include <algorithm>

namespace svcnft::announce {

std::optional<Election::Write> Election::afterRead(const std::optional<LeaseRecord>& lease,
                                                   bool candidate, TimePoint now,
                                                   const std::string& wallNow) {
  // Any write counts as a renewal, also one whose times read the same (a wall clock
  // set back): the resourceVersion changes with every write.
  if (lease && (!observed_ || !lease->sameAs(*observed_) ||
                lease->resourceVersion != observed_->resourceVersion)) {
    observedAt_ = now;
  }
  if (lease) {
    observed_ = lease;
  } else {
    observed_.reset();
  }
  if (lease && lease->holder != identity_) renewedAt_.reset();  // someone else holds it
  if (!candidate) return std::nullopt;                          // release() gives it up

  const auto duration = std::chrono::seconds(std::max(lease ? lease->durationSeconds : 0, 1));
  if (lease && !lease->holder.empty() && lease->holder != identity_ &&
      now < observedAt_ + duration) {
    return std::nullopt;  // another node's lease still runs
  }
  Write w;
  w.create = !lease;
  w.record.holder = identity_;
  w.record.durationSeconds =
      static_cast<int>(std::chrono::ceil<std::chrono::seconds>(times_.lease).count());
  w.record.renewTime = wallNow;
  if (lease && lease->holder == identity_) {
    w.record.acquireTime = lease->acquireTime;
    w.record.transitions = lease->transitions;
  } else {
    w.record.acquireTime = wallNow;
    w.record.transitions = lease ? lease->transitions + 1 : 0;
  }
  pendingFrom_ = lease && lease->holder.empty() ? lease->releasedFrom : "";
  if (lease) w.record.resourceVersion = lease->resourceVersion;
  return w;
}

void Election::afterWrite(const LeaseRecord& stored, TimePoint sentAt) {
  // An acquisition (not a renewal): whom it took over from.
  if (stored.holder == identity_ && !holds()) takenOverFrom_ = pendingFrom_;
  if (stored.holder != identity_) takenOverFrom_.clear();
  observed_ = stored;
  observedAt_ = sentAt;
  renewedAt_ = stored.holder == identity_ ? std::optional<TimePoint>(sentAt) : std::nullopt;
}

std::optional<LeaseRecord> Election::release(const std::string& wallNow, const std::string& from) {
  renewedAt_.reset();
  if (!holds()) return std::nullopt;
  LeaseRecord r = *observed_;
  r.holder.clear();
  r.releasedFrom = from;
  r.durationSeconds = 1;
  r.acquireTime = wallNow;
  r.renewTime = wallNow;
  return r;
}

bool Election::leading(TimePoint now) const {
  return holds() && renewedAt_ && now < *renewedAt_ + times_.renewDeadline;
}

Election::TimePoint Election::nextAttempt(TimePoint now) const {
  TimePoint next = now + times_.retry;
  if (observed_ && !observed_->holder.empty() && observed_->holder != identity_) {
    // Try again right when the other holder's lease would run out, not up to a
    // retry period later.
    const auto duration = std::chrono::seconds(std::max(observed_->durationSeconds, 1));
    if (observedAt_ + duration > now) next = std::min(next, observedAt_ + duration);
  }
  return next;
}

}  // namespace svcnft::announce

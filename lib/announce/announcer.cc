#include "announce/announcer.h"

#include <algorithm>

namespace svcnft::announce {

namespace {

// The first address of family `f` in "198.18.0.2,2001:db8::2".
std::optional<IpAddress> sameFamily(const std::string& list, IpFamily f) {
  std::size_t at = 0;
  while (at < list.size()) {
    std::size_t end = list.find(',', at);
    if (end == std::string::npos) end = list.size();
    auto a = IpAddress::parse(list.substr(at, end - at));
    if (a && a->family() == f) return a;
    at = end + 1;
  }
  return std::nullopt;
}

}  // namespace

Announcer::Announcer(std::string identity, ElectionTimes times, LeaseStore& leases,
                     Speaker& speaker, Handover& handover, AnnounceObserver& observer, Log log,
                     Clocks clocks)
    : identity_(std::move(identity)),
      times_(times),
      leases_(leases),
      speaker_(speaker),
      handover_(handover),
      observer_(observer),
      log_(std::move(log)),
      clocks_(std::move(clocks)) {}

Announcer::~Announcer() { stop(); }

void Announcer::want(std::vector<Announcement> wanted) {
  std::map<IpAddress, Announcement> byAddress;
  for (auto& a : wanted) {
    // Two Services with one address: the first (in key order) names it; this node
    // is a candidate when it may serve either.
    auto [it, fresh] = byAddress.emplace(a.address, a);
    if (!fresh) it->second.candidate = it->second.candidate || a.candidate;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (byAddress == wanted_) return;
    wanted_ = std::move(byAddress);
    changed_ = true;
  }
  wake_.notify_all();
}

TimePoint Announcer::step() {
  std::map<IpAddress, Announcement> wanted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    wanted = wanted_;
  }
  const bool linkUp = speaker_.linkUp();
  if (linkUp != linkWasUp_) {
    log_(linkUp ? "the announce interface is up again: standing for LoadBalancer addresses"
                : "the announce interface is down: giving its LoadBalancer addresses up");
    linkWasUp_ = linkUp;
  }
  for (const auto& [address, w] : wanted) {
    if (!addresses_.count(address)) {
      addresses_.emplace(address, Address{Election(identity_, times_), w.service});
    }
  }
  for (auto it = addresses_.begin(); it != addresses_.end();) {
    auto w = wanted.find(it->first);
    if (w != wanted.end()) it->second.service = w->second.service;
    const bool candidate = linkUp && w != wanted.end() && w->second.candidate;
    tryLease(it->first, it->second, candidate);
    if (w == wanted.end() && !it->second.election.holds()) {
      it = addresses_.erase(it);
    } else {
      ++it;
    }
  }
  const TimePoint now = clocks_.steady();
  tell(now);
  TimePoint next = now + times_.retry;
  for (const auto& [address, a] : addresses_) {
    next = std::min(next, a.next);
    if (auto until = a.election.leadingUntil(); until && *until > now)
      next = std::min(next, *until);
  }
  return next;
}

void Announcer::tryLease(const IpAddress& address, Address& a, bool candidate) {
  const std::string name = leaseName(address);
  auto report = [&](const std::string& what, bool failed) {
    if (failed) {
      if (a.election.holds()) observer_.leaseRenewFailed();
      if (failing_.insert(name).second) log_("warning: " + what);
    } else if (failing_.erase(name)) {
      log_("Lease " + name + " can be read and written again");
    }
  };
  if (!candidate) {
    // Give it up: silent at once, and the Lease released so another node need not
    // wait for it to run out.
    std::string from;
    for (const auto& own : speaker_.ownAddresses()) from += (from.empty() ? "" : ",") + own.str();
    if (auto released = a.election.release(microTime(clocks_.unixNow()), from)) {
      tell(clocks_.steady());  // silent before the request, which may take its time
      auto stored = leases_.update(name, *released);
      report(stored ? "" : stored.error().message, !stored);
      if (stored) {
        a.election.afterWrite(*stored, clocks_.steady());
        log_("released " + address.str() + " (" + a.service + ")");
      }
    }
    a.next = clocks_.steady() + times_.retry;
    return;
  }
  const TimePoint now = clocks_.steady();
  if (now < a.next) return;
  auto lease = leases_.get(name);
  if (!lease) {
    report(lease.error().message, true);
    a.next = clocks_.steady() + times_.retry;
    return;
  }
  const bool wasLeading = a.election.leading(now);
  auto write = a.election.afterRead(*lease, true, now, microTime(clocks_.unixNow()));
  if (write) {
    const TimePoint sentAt = clocks_.steady();
    auto stored =
        write->create ? leases_.create(name, write->record) : leases_.update(name, write->record);
    if (stored) {
      a.election.afterWrite(*stored, sentAt);
      report("", false);
    } else {
      // A conflict is another node's write that came first: read again next round.
      report(stored.error().message, true);
    }
  } else {
    report("", false);
  }
  const TimePoint after = clocks_.steady();
  if (!wasLeading && a.election.leading(after)) {
    observer_.takeover();
    log_("announcing " + address.str() + " (" + a.service + "): this node holds Lease " + name);
  }
  a.next = a.election.nextAttempt(after);
}

void Announcer::tell(TimePoint now) {
  std::map<IpAddress, TimePoint> answer;
  std::map<IpAddress, std::string> announced;
  std::map<IpAddress, IpAddress> handOn;
  for (auto& [address, a] : addresses_) {
    const bool leading = a.election.leading(now);
    if (a.announced && !leading) {
      log_("no longer announcing " + address.str() + " (" + a.service + ")");
    }
    a.announced = leading;
    if (!leading) continue;
    answer.emplace(address, *a.election.leadingUntil());
    announced.emplace(address, a.service);
    if (auto previous = sameFamily(a.election.takenOverFrom(), address.family())) {
      handOn.emplace(address, *previous);
    }
  }
  // The handover first: the announcement moves clients at once, and their packets
  // of connections begun elsewhere must find it in place.
  if (!releasing_) handover_.handOn(handOn);
  speaker_.answerFor(answer);
  observer_.announcing(announced);
}

void Announcer::releaseAll() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wanted_.clear();
  }
  // The handover table stays as it is: like the main table, the kernel goes on
  // forwarding after the agent stops (connections handed on to this node by the next
  // holder may be ones this node hands on in turn). The next start sets it anew.
  releasing_ = true;
  speaker_.answerFor({});
  for (auto& [address, a] : addresses_) tryLease(address, a, false);
  addresses_.clear();
  observer_.announcing({});
}

void Announcer::start() {
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      lock.unlock();
      const TimePoint next = step();
      lock.lock();
      // A new list wakes the loop at once; otherwise the next Lease that is due.
      wake_.wait_until(lock, std::chrono::steady_clock::now() + (next - clocks_.steady()),
                       [&] { return stop_ || changed_; });
      changed_ = false;
    }
  });
}

void Announcer::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  releaseAll();
}

}  // namespace svcnft::announce

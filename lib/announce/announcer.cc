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
                     Clocks clocks, StatusWriter* status, std::vector<Cidr> pools)
    : identity_(std::move(identity)),
      times_(times),
      leases_(leases),
      speaker_(speaker),
      handover_(handover),
      observer_(observer),
      log_(std::move(log)),
      clocks_(std::move(clocks)),
      status_(status ? *status : noStatus_),
      pools_(std::move(pools)),
      allocator_(identity_, times_) {}

Announcer::~Announcer() { stop(); }

void Announcer::want(std::vector<Announcement> wanted, std::vector<AddressRequest> requests,
                     std::set<IpAddress> used) {
  std::map<IpAddress, Announcement> byAddress;
  for (auto& a : wanted) {
    // Two Services with one address: the first (in key order) names it; this node
    // is a candidate when it may serve either.
    auto [it, fresh] = byAddress.emplace(a.address, a);
    if (!fresh) it->second.candidate = it->second.candidate || a.candidate;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (byAddress == wanted_ && requests == requests_ && used == used_) return;
    wanted_ = std::move(byAddress);
    requests_ = std::move(requests);
    used_ = std::move(used);
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
  assignAddresses();
  const TimePoint now = clocks_.steady();
  tell(now);
  TimePoint next = now + times_.retry;
  if (!pools_.empty()) next = std::min(next, allocatorNext_);
  for (const auto& [address, a] : addresses_) {
    next = std::min(next, a.next);
    if (auto until = a.election.leadingUntil(); until && *until > now)
      next = std::min(next, *until);
  }
  return next;
}

void Announcer::report(const std::string& name, const Election& e, const std::string& failure) {
  if (!failure.empty()) {
    if (e.holds()) observer_.leaseRenewFailed();
    if (failing_.insert(name).second) log_("warning: " + failure);
  } else if (failing_.erase(name)) {
    log_("Lease " + name + " can be read and written again");
  }
}

void Announcer::contend(const std::string& name, Election& e, TimePoint& next) {
  const TimePoint now = clocks_.steady();
  if (now < next) return;
  auto lease = leases_.get(name);
  if (!lease) {
    report(name, e, lease.error().message);
    next = clocks_.steady() + times_.retry;
    return;
  }
  auto write = e.afterRead(*lease, true, now, microTime(clocks_.unixNow()));
  if (write) {
    const TimePoint sentAt = clocks_.steady();
    auto stored =
        write->create ? leases_.create(name, write->record) : leases_.update(name, write->record);
    if (stored) {
      e.afterWrite(*stored, sentAt);
      report(name, e, "");
    } else {
      // A conflict is another node's write that came first: read again next round.
      report(name, e, stored.error().message);
    }
  } else {
    report(name, e, "");
  }
  next = e.nextAttempt(clocks_.steady());
}

void Announcer::tryLease(const IpAddress& address, Address& a, bool candidate) {
  const std::string name = leaseName(address);
  if (!candidate) {
    // Give it up: silent at once, and the Lease released so another node need not
    // wait for it to run out.
    std::string from;
    for (const auto& own : speaker_.ownAddresses()) from += (from.empty() ? "" : ",") + own.str();
    if (auto released = a.election.release(microTime(clocks_.unixNow()), from)) {
      tell(clocks_.steady());  // silent before the request, which may take its time
      auto stored = leases_.update(name, *released);
      report(name, a.election, stored ? "" : stored.error().message);
      if (stored) {
        a.election.afterWrite(*stored, clocks_.steady());
        log_("released " + address.str() + " (" + a.service + ")");
      }
    }
    a.next = clocks_.steady() + times_.retry;
    return;
  }
  const bool wasLeading = a.election.leading(clocks_.steady());
  contend(name, a.election, a.next);
  if (!wasLeading && a.election.leading(clocks_.steady())) {
    observer_.takeover();
    log_("announcing " + address.str() + " (" + a.service + "): this node holds Lease " + name);
  }
}

void Announcer::assignAddresses() {
  if (pools_.empty()) return;
  std::vector<AddressRequest> requests;
  std::set<IpAddress> used;
  {
    std::lock_guard<std::mutex> lock(mu_);
    requests = requests_;
    used = used_;
  }
  // What this node wrote stays taken until the Service shows it (its request goes).
  std::erase_if(assigned_, [&](const auto& entry) {
    return std::none_of(requests.begin(), requests.end(),
                        [&](const AddressRequest& r) { return r.key == entry.first; });
  });
  for (const auto& [key, addresses] : assigned_) used.insert(addresses.begin(), addresses.end());
  contend(kAllocatorLease, allocator_, allocatorNext_);
  if (!allocator_.leading(clocks_.steady())) return;
  std::erase_if(requests, [&](const AddressRequest& r) { return assigned_.count(r.key) > 0; });
  if (requests.empty()) return;
  const Allocation chosen = allocate(requests, pools_, used);
  for (const auto& key : chosen.exhausted) {
    if (exhausted_.insert(key).second) {
      log_("warning: Service " + key + ": no free address of its families in loadBalancerPools");
    }
  }
  for (const auto& [key, addresses] : chosen.addresses) {
    auto written = status_.writeIngress(key, addresses);
    if (!written) {
      log_("warning: " + written.error().message);
      continue;
    }
    std::string list;
    for (const auto& a : addresses) list += (list.empty() ? "" : ", ") + a.str();
    log_("assigned " + list + " to Service " + key + " (status.loadBalancer.ingress)");
    assigned_[key] = addresses;
    exhausted_.erase(key);
  }
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

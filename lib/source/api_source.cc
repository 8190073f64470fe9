#include "source/api_source.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <ctime>

#include "manifest/loader.h"

namespace svcnft::source {

namespace {

using manifest::YamlNode;

double wallNow() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

std::string scalar(const YamlNode& n) { return n.isScalar() ? std::string(n.scalar()) : ""; }

// kube-proxy's informer selector, on Services and EndpointSlices alike (its code
// applies both requirements to both): not another proxy's, not headless. With a
// proxy name: only that proxy's.
std::string proxySelector(const std::string& proxyName) {
  const std::string mine = proxyName.empty()
                               ? "!service.kubernetes.io/service-proxy-name"
                               : "service.kubernetes.io/service-proxy-name=" + proxyName;
  return "labelSelector=" + urlEncoded(mine + ",!service.kubernetes.io/headless");
}

}  // namespace

// Decodes one resource's objects on its reflector's thread and hands them over.
class ApiSource::Handler : public WatchHandler {
 public:
  Handler(ApiSource& owner, Resource resource) : owner_(owner), resource_(resource) {}

  void beginList() override {
    list_.clear();
    inList_ = true;
  }

  void object(WatchEventType type, const YamlNode& object) override {
    Decoded d = decode(type, object);
    if (listing()) {
      list_.push_back(std::move(d));
      return;
    }
    Update u;
    u.resource = resource_;
    u.objects.push_back(std::move(d));
    owner_.push(std::move(u));
  }

  void endList(bool complete) override {
    if (complete) {
      Update u;
      u.resource = resource_;
      u.completeList = true;
      u.objects = std::move(list_);
      owner_.push(std::move(u));
      owner_.listed_[resource_] = true;
    }
    list_.clear();
    inList_ = false;
  }

  void contact(bool watching) override {
    lastContact_ = wallNow();
    watching_ = watching;
  }

  // As of when this resource's picture is known current (now, while a watch is open).
  double currentAsOf() const { return watching_ ? wallNow() : lastContact_.load(); }

 private:
  // Objects between beginList() and endList() belong to the list (all calls come
  // from the reflector's one thread).
  bool listing() const { return inList_; }

  std::string pathOf(const YamlNode& object) const {
    const YamlNode meta = object["metadata"];
    const std::string ns = scalar(meta["namespace"]), name = scalar(meta["name"]);
    switch (resource_) {
      case kServices:
        return "/api/v1/namespaces/" + ns + "/services/" + name;
      case kSlices:
        return "/apis/discovery.k8s.io/v1/namespaces/" + ns + "/endpointslices/" + name;
      default:
        return "/api/v1/nodes/" + name;
    }
  }

  Decoded decode(WatchEventType type, const YamlNode& object) {
    Decoded d;
    d.part = pathOf(object);
    if (type == WatchEventType::kDeleted) {
      d.deleted = true;
      return d;
    }
    Diagnostics diags;
    if (resource_ == kNodes) {
      d.node = manifest::parseNodeObject(object, d.part, diags);
    } else {
      manifest::parseObject(object, resource_ == kServices ? "Service" : "EndpointSlice", d.part,
                            d.contents, diags);
      // The checks a Service needs on its own; those between objects (a nodePort
      // used twice) are the inventory's and the full sync's.
      if (resource_ == kServices && !diags.hasErrors()) {
        manifest::validate(d.contents, owner_.nodeConfig_, diags);
      }
    }
    d.invalid = diags.hasErrors();
    d.problems = diags.all();
    return d;
  }

  ApiSource& owner_;
  Resource resource_;
  std::vector<Decoded> list_;
  bool inList_ = false;
  std::atomic<double> lastContact_{0};
  std::atomic<bool> watching_{false};
};

ApiSource::ApiSource(std::string server, ClientFactory clients, std::string nodeName,
                     NodeConfig node, ApiCounters& counters, Log log, Backoff backoff,
                     std::string proxyName)
    : server_(std::move(server)),
      clients_(std::move(clients)),
      nodeName_(std::move(nodeName)),
      nodeConfig_(std::move(node)),
      counters_(counters),
      log_(std::move(log)),
      backoff_(backoff),
      proxyName_(std::move(proxyName)) {
  eventFd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

ApiSource::~ApiSource() {
  stop();
  if (eventFd_ >= 0) close(eventFd_);
}

void ApiSource::start() {
  const ResourceQuery queries[kResources] = {
      {"services", "/api/v1/services", proxySelector(proxyName_)},
      {"endpointslices", "/apis/discovery.k8s.io/v1/endpointslices", proxySelector(proxyName_)},
      {"nodes", "/api/v1/nodes", "fieldSelector=" + urlEncoded("metadata.name=" + nodeName_)},
  };
  for (int r = 0; r < kResources; ++r) {
    handlers_.push_back(std::make_unique<Handler>(*this, static_cast<Resource>(r)));
  }
  for (int r = 0; r < kResources; ++r) {
    if (r == kNodes && nodeName_.empty()) continue;
    httpClients_.push_back(clients_());
    reflectors_.push_back(std::make_unique<Reflector>(queries[r], *httpClients_.back(),
                                                      *handlers_[r], counters_, log_, backoff_));
    Reflector* reflector = reflectors_.back().get();
    threads_.emplace_back([reflector] { reflector->run(); });
  }
}

void ApiSource::stop() {
  for (auto& r : reflectors_) r->stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void ApiSource::push(Update update) {
  {
    std::lock_guard<std::mutex> l(mu_);
    queue_.push_back(std::move(update));
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(eventFd_, &one, sizeof one);
}

bool ApiSource::consumeEvents() {
  uint64_t count = 0;
  return read(eventFd_, &count, sizeof count) == sizeof count && count > 0;
}

bool ApiSource::ready() const {
  return listed_[kServices] && listed_[kSlices] && (nodeName_.empty() || listed_[kNodes]);
}

std::optional<NodeFacts> ApiSource::node() const { return node_; }

std::optional<double> ApiSource::currentAsOf() const {
  std::optional<double> oldest;
  for (std::size_t r = 0; r < handlers_.size(); ++r) {
    if (r == kNodes && nodeName_.empty()) continue;
    const double t = handlers_[r]->currentAsOf();
    if (!oldest || t < *oldest) oldest = t;
  }
  return oldest;
}

std::set<std::string> ApiSource::refresh(Inventory& inventory, Diagnostics& problems) {
  std::deque<Update> updates;
  {
    std::lock_guard<std::mutex> l(mu_);
    updates.swap(queue_);
  }
  static const char* const kNames[kResources] = {"services", "endpointslices", "nodes"};
  std::set<std::string> changed;
  auto merge = [&](std::set<std::string> keys) { changed.merge(keys); };
  for (auto& u : updates) {
    if (u.resource == kNodes) {
      // A Node that is gone or not there keeps the facts last known: its addresses
      // do not stop taking NodePort traffic because the API says less.
      for (auto& obj : u.objects) {
        for (const auto& d : obj.problems) problems.warning(d.where, d.message);
        if (!obj.deleted && obj.node) node_ = std::move(obj.node);
      }
      if (u.completeList && u.objects.empty() && !node_) {
        problems.warning({"/api/v1/nodes/" + nodeName_, 0, 0},
                         "no such Node: NodePorts take every local address until it appears "
                         "(set --hostname-override or the node config's nodeName)");
      }
      continue;
    }
    std::set<std::string>& parts = parts_[u.resource];
    if (u.completeList) {
      std::set<std::string> named;
      for (const auto& obj : u.objects) named.insert(obj.part);
      for (auto it = parts.begin(); it != parts.end();) {
        if (named.count(*it)) {
          ++it;
          continue;
        }
        merge(inventory.replace(*it, {}));
        it = parts.erase(it);
      }
    }
    for (auto& obj : u.objects) {
      for (const auto& d : obj.problems) {
        if (d.severity == Severity::kError) {
          problems.error(d.where, d.message + (parts.count(obj.part)
                                                   ? " (skipped; its last good version stays)"
                                                   : " (skipped)"));
        } else {
          problems.warning(d.where, d.message);
        }
      }
      if (obj.deleted) {
        merge(inventory.replace(obj.part, {}));
        parts.erase(obj.part);
      } else if (obj.invalid) {
        counters_.apiInvalidObject(kNames[u.resource]);
      } else {
        merge(inventory.replace(obj.part, std::move(obj.contents)));
        parts.insert(obj.part);
      }
    }
  }
  return changed;
}

}  // namespace svcnft::source

// The Kubernetes API source: Services, EndpointSlices and this node's Node, listed
// and watched as kube-proxy's informers do (source/reflector.h), each on a thread
// of its own. Objects are decoded and checked on those threads with the very
// parsers manifest files go through, and handed to the agent's thread through a
// queue; an eventfd says when there is something.
//
// - Selectors are kube-proxy's: objects labelled service.kubernetes.io/service-proxy-name
//   belong to another proxy, and service.kubernetes.io/headless ones get no rules;
//   an object that leaves the selector arrives as DELETED. With a proxy name, only
//   the objects labelled with it (the EndpointSlice controller copies a Service's
//   labels to its slices).
// - Not ready() until Services and EndpointSlices (and the Node, when a node name
//   is known) have each been listed completely once.
// - One invalid object is reported with its API path and field, counted, and skipped
//   alone; an object that was valid before keeps its last good version.
// - A list replaces everything of its resource: what it no longer names is gone.
//   A failed request never deletes anything.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "source/http_client.h"
#include "source/reflector.h"
#include "source/source.h"

namespace svcnft::source {

class ApiSource : public Source {
 public:
  using ClientFactory = std::function<std::unique_ptr<HttpClient>()>;
  using Log = std::function<void(const std::string&)>;

  // `node`: what Services are checked against on their own (nodePort range,
  // externalIPAllow). `nodeName` empty: no Node is watched. `proxyName` empty: the
  // Services no other proxy claims (kube-proxy's choice); else only those labelled
  // service.kubernetes.io/service-proxy-name=proxyName (a trial beside kube-proxy,
  // which ignores them).
  ApiSource(std::string server, ClientFactory clients, std::string nodeName, NodeConfig node,
            ApiCounters& counters, Log log, Backoff backoff = {}, std::string proxyName = "");
  ~ApiSource() override;
  ApiSource(const ApiSource&) = delete;
  ApiSource& operator=(const ApiSource&) = delete;

  // Starts the list/watch threads.
  void start();
  void stop();

  std::string name() const override { return "kubernetes " + server_; }
  int fd() const override { return eventFd_; }
  bool consumeEvents() override;
  bool ready() const override;
  std::set<std::string> refresh(Inventory& inventory, Diagnostics& problems) override;
  std::optional<NodeFacts> node() const override;
  std::optional<double> currentAsOf() const override;

 private:
  enum Resource { kServices, kSlices, kNodes, kResources };
  // One object as decoded on a reflector thread.
  struct Decoded {
    std::string part;  // its API path: the inventory part and the name in messages
    bool deleted = false;
    Manifests contents;
    std::optional<NodeFacts> node;
    std::vector<Diagnostic> problems;
    bool invalid = false;
  };
  // What a reflector handed over: one event, or a complete list.
  struct Update {
    Resource resource = kServices;
    bool completeList = false;
    std::vector<Decoded> objects;
  };
  class Handler;

  void push(Update update);

  std::string server_;
  ClientFactory clients_;
  std::string nodeName_;
  NodeConfig nodeConfig_;
  ApiCounters& counters_;
  Log log_;
  Backoff backoff_;
  std::string proxyName_;
  int eventFd_ = -1;

  std::vector<std::unique_ptr<Handler>> handlers_;
  std::vector<std::unique_ptr<HttpClient>> httpClients_;
  std::vector<std::unique_ptr<Reflector>> reflectors_;
  std::vector<std::thread> threads_;

  mutable std::mutex mu_;
  std::deque<Update> queue_;
  std::atomic<bool> listed_[kResources] = {false, false, false};

  // The agent thread's own state (refresh()).
  std::set<std::string> parts_[kResources];  // parts in the inventory, by resource
  std::optional<NodeFacts> node_;
};

}  // namespace svcnft::source

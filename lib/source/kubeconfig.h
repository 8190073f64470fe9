// How to reach the Kubernetes API server: a kubeconfig file (its current context)
// or the in-cluster configuration of a pod. Plain values; reading them is the only
// I/O here. Relative paths in a kubeconfig resolve against the file's folder, as
// kubectl resolves them. Bearer tokens from a file are read again for every
// request: bound service account tokens rotate.
#pragma once

#include <map>
#include <string>

#include "common/result.h"

namespace svcnft::source {

struct ApiConfig {
  std::string server;                                // "https://host:port", no trailing slash
  std::string caFile, caData;                        // PEM; neither: the system's trust store
  std::string certFile, certData, keyFile, keyData;  // client certificate (PEM)
  std::string token, tokenFile;                      // bearer token, or a file that holds it
  std::string origin;  // for messages: "kubeconfig /etc/svcnft/kubeconfig"
};

// The current context of a kubeconfig (clusters, users, contexts as kubectl reads
// them; *-data fields are base64). Refuses what svcnft cannot honour safely
// (insecure-skip-tls-verify, exec and auth-provider plugins) with a clear error.
Result<ApiConfig> loadKubeconfig(const std::string& path);

// A pod's configuration: KUBERNETES_SERVICE_HOST and _PORT from `env`, the service
// account's token and ca.crt under `accountDir`
// (/var/run/secrets/kubernetes.io/serviceaccount in a pod).
Result<ApiConfig> inClusterConfig(const std::map<std::string, std::string>& env,
                                  const std::string& accountDir);

// The bearer token to send now ("" for none): the token file read again, or the token.
Result<std::string> bearerToken(const ApiConfig& config);

}  // namespace svcnft::source

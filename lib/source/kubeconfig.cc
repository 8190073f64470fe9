#include "source/kubeconfig.h"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace svcnft::source {

namespace fs = std::filesystem;

namespace {

Result<std::string> readText(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"cannot read " + what + " " + path};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::string> base64(const std::string& text, const std::string& field) {
  std::string clean;
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) clean += c;
  }
  if (clean.size() % 4 != 0) return Error{field + ": not base64"};
  std::string out(clean.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(clean.data()),
                                static_cast<int>(clean.size()));
  if (n < 0) return Error{field + ": not base64"};
  std::size_t size = static_cast<std::size_t>(n);
  // EVP_DecodeBlock counts padding as zero bytes.
  if (!clean.empty() && clean.back() == '=') --size;
  if (clean.size() > 1 && clean[clean.size() - 2] == '=') --size;
  out.resize(size);
  return out;
}

// The entry of list `section` (clusters, users, contexts) named `name`.
YAML::Node named(const YAML::Node& root, const char* section, const std::string& name) {
  const YAML::Node list = root[section];
  if (!list || !list.IsSequence()) return YAML::Node(YAML::NodeType::Undefined);
  for (const auto& item : list) {
    if (item["name"] && item["name"].as<std::string>() == name) return item;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

std::string text(const YAML::Node& parent, const char* key) {
  return parent && parent[key] && parent[key].IsScalar() ? parent[key].as<std::string>() : "";
}

std::string resolved(const std::string& path, const fs::path& base) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (base / path).string();
}

}  // namespace

Result<ApiConfig> loadKubeconfig(const std::string& path) {
  auto content = readText(path, "kubeconfig");
  if (!content) return content.error();
  const fs::path base = fs::absolute(fs::path(path)).parent_path();
  ApiConfig c;
  c.origin = "kubeconfig " + path;
  try {
    const YAML::Node root = YAML::Load(*content);
    if (!root.IsMap()) return Error{path + ": not a kubeconfig (expected a map)"};
    const std::string current = text(root, "current-context");
    if (current.empty()) return Error{path + ": current-context: not set"};
    const YAML::Node context = named(root, "contexts", current)["context"];
    if (!context) return Error{path + ": contexts: no context named \"" + current + "\""};
    const std::string clusterName = text(context, "cluster"), userName = text(context, "user");
    const YAML::Node cluster = named(root, "clusters", clusterName)["cluster"];
    if (!cluster) return Error{path + ": clusters: no cluster named \"" + clusterName + "\""};
    c.server = text(cluster, "server");
    while (!c.server.empty() && c.server.back() == '/') c.server.pop_back();
    if (c.server.rfind("https://", 0) != 0) {
      return Error{path + ": cluster \"" + clusterName + "\": server: \"" + c.server +
                   "\" is not an https:// address"};
    }
    if (text(cluster, "insecure-skip-tls-verify") == "true") {
      return Error{path + ": cluster \"" + clusterName +
                   "\": insecure-skip-tls-verify is refused: svcnft always verifies the server"};
    }
    c.caFile = resolved(text(cluster, "certificate-authority"), base);
    if (auto data = text(cluster, "certificate-authority-data"); !data.empty()) {
      auto pem = base64(data, path + ": certificate-authority-data");
      if (!pem) return pem.error();
      c.caData = *pem;
    }
    if (!userName.empty()) {
      const YAML::Node user = named(root, "users", userName)["user"];
      if (!user) return Error{path + ": users: no user named \"" + userName + "\""};
      if (user["exec"] || user["auth-provider"]) {
        return Error{path + ": user \"" + userName +
                     "\": exec and auth-provider plugins are not supported; use a client "
                     "certificate, a token or a token file"};
      }
      c.certFile = resolved(text(user, "client-certificate"), base);
      c.keyFile = resolved(text(user, "client-key"), base);
      for (auto [field, into] : {std::pair{"client-certificate-data", &c.certData},
                                 std::pair{"client-key-data", &c.keyData}}) {
        if (auto data = text(user, field); !data.empty()) {
          auto pem = base64(data, path + ": " + field);
          if (!pem) return pem.error();
          *into = *pem;
        }
      }
      c.token = text(user, "token");
      c.tokenFile = resolved(text(user, "tokenFile"), base);
    }
  } catch (const YAML::Exception& e) {
    return Error{path + ":" + std::to_string(e.mark.line + 1) + ":" +
                 std::to_string(e.mark.column + 1) + ": " + e.msg};
  }
  return c;
}

Result<ApiConfig> inClusterConfig(const std::map<std::string, std::string>& env,
                                  const std::string& accountDir) {
  auto host = env.find("KUBERNETES_SERVICE_HOST"), port = env.find("KUBERNETES_SERVICE_PORT");
  if (host == env.end() || port == env.end() || host->second.empty() || port->second.empty()) {
    return Error{
        "no --kubeconfig given and not in a pod (KUBERNETES_SERVICE_HOST and "
        "KUBERNETES_SERVICE_PORT are not set)"};
  }
  ApiConfig c;
  c.origin = "in-cluster configuration";
  const bool v6 = host->second.find(':') != std::string::npos;
  c.server = "https://" + (v6 ? "[" + host->second + "]" : host->second) + ":" + port->second;
  c.tokenFile = accountDir + "/token";
  c.caFile = accountDir + "/ca.crt";
  if (auto t = readText(c.tokenFile, "service account token"); !t) return t.error();
  if (auto ca = readText(c.caFile, "service account CA"); !ca) return ca.error();
  return c;
}

Result<std::string> bearerToken(const ApiConfig& config) {
  if (config.tokenFile.empty()) return config.token;
  auto t = readText(config.tokenFile, "token file");
  if (!t) return t.error();
  std::string token = *t;
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  return token;
}

}  // namespace svcnft::source

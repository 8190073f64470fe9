// Fuzz target: any bytes as a kube-proxy KubeProxyConfiguration, laid over an
// empty node config and compiled with no Services (the skeleton it shapes).
#include <cstddef>
#include <cstdint>
#include <string>

#include "compile/compiler.h"
#include "manifest/kube_proxy_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  svcnft::Diagnostics diags;
  const auto config = svcnft::manifest::parseKubeProxyConfigText(text, "kube-proxy.yaml", diags);
  if (diags.hasErrors()) return 0;
  svcnft::Inputs in;
  in.node = svcnft::manifest::withKubeProxyConfig({}, config, "node.yaml", diags);
  (void)svcnft::compileRuleset(in, diags);
  return 0;
}

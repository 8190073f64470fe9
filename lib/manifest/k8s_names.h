// Kubernetes' rules for names (apimachinery's validation), so that svcnft reads
// exactly the objects the API server would accept. Each check returns nullopt for
// a good name, else why it is not one, quoting the name.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace svcnft::manifest {

// Namespaces, port names: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters.
std::optional<std::string> dns1123LabelProblem(std::string_view name);
// Service names: as a DNS-1123 label, but starting with a letter.
std::optional<std::string> dns1035LabelProblem(std::string_view name);
// EndpointSlice, Endpoints and Node names: dot-separated DNS-1123 labels, at most 253.
std::optional<std::string> dns1123SubdomainProblem(std::string_view name);
// Label values (kubernetes.io/service-name): empty, or ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9],
// at most 63 characters.
std::optional<std::string> labelValueProblem(std::string_view value);
// Named target ports (IANA service names): at most 15 characters of [a-z0-9-], at
// least one letter, no '-' at either end and no "--".
std::optional<std::string> ianaServiceNameProblem(std::string_view name);

}  // namespace svcnft::manifest

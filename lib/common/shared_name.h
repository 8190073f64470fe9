// A name that many objects repeat (an endpoint's node and zone): stored once for
// the whole process, held by pointer. A cluster has few nodes but each of its
// endpoints names one; as strings that was 64 bytes an endpoint, and a heap
// allocation more wherever a name passes 15 characters.
#pragma once

#include <string>
#include <string_view>

namespace svcnft {

class SharedName {
 public:
  SharedName() = default;
  // Implicit, so that a name can be given as a string where one is expected.
  SharedName(std::string_view name);  // NOLINT(google-explicit-constructor)
  SharedName(const std::string& name) : SharedName(std::string_view(name)) {}  // NOLINT
  SharedName(const char* name) : SharedName(std::string_view(name)) {}         // NOLINT

  const std::string& str() const;
  bool empty() const { return name_ == nullptr; }

  // One stored copy per distinct name: equal names are the same pointer.
  bool operator==(const SharedName& other) const { return name_ == other.name_; }
  bool operator==(std::string_view other) const { return str() == other; }
  bool operator==(const std::string& other) const { return str() == other; }
  bool operator==(const char* other) const { return str() == other; }
  bool operator<(const SharedName& other) const { return str() < other.str(); }

 private:
  const std::string* name_ = nullptr;  // null: empty
};

}  // namespace svcnft

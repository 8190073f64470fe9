// Runs a command under the seccomp filter a systemd unit would give it, so that the
// agent can be tested with its unit's restrictions where systemd is not PID 1:
//   seccomp_exec ALLOWED_SYSCALLS_FILE FAMILIES [--deny-write-execute] -- COMMAND...
// ALLOWED_SYSCALLS_FILE: one name per line (SystemCallFilter=, resolved by the test);
// anything else fails with EPERM, as SystemCallErrorNumber=EPERM has it.
// FAMILIES: comma-separated socket families socket() may open
// (RestrictAddressFamilies=), e.g. "unix,inet,inet6,netlink".
// --deny-write-execute: MemoryDenyWriteExecute=, no mapping both writable and
// executable and no mapping made executable later.
// The caller must have set no_new_privs (setpriv --no-new-privs) or hold CAP_SYS_ADMIN.
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

int fail(const std::string& message) {
  std::fprintf(stderr, "seccomp_exec: %s\n", message.c_str());
  return 2;
}

// The allowed calls whose arguments a rule must check; each is allowed only by
// those conditional rules.
bool isConditional(const std::string& name, bool denyWriteExecute) {
  if (name == "socket") return true;
  return denyWriteExecute &&
         (name == "mmap" || name == "mprotect" || name == "pkey_mprotect" || name == "shmat");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5)
    return fail("usage: seccomp_exec SYSCALLS_FILE FAMILIES [--deny-write-execute] -- COMMAND...");
  const std::string listFile = argv[1];
  const std::string familyList = argv[2];
  int i = 3;
  bool denyWriteExecute = false;
  if (std::strcmp(argv[i], "--deny-write-execute") == 0) {
    denyWriteExecute = true;
    ++i;
  }
  if (i >= argc || std::strcmp(argv[i], "--") != 0 || i + 1 >= argc)
    return fail("missing -- COMMAND");
  char** command = argv + i + 1;

  const std::map<std::string, int> families{{"unix", AF_UNIX},
                                            {"inet", AF_INET},
                                            {"inet6", AF_INET6},
                                            {"netlink", AF_NETLINK},
                                            {"packet", AF_PACKET}};

  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
  if (!ctx) return fail("seccomp_init failed");
  std::ifstream in(listFile);
  if (!in) return fail("cannot read " + listFile);
  int allowed = 0;
  for (std::string name; std::getline(in, name);) {
    if (name.empty() || isConditional(name, denyWriteExecute)) continue;
    const int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) continue;  // not a call of this architecture
    if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) != 0) return fail("cannot allow " + name);
    ++allowed;
  }

  std::stringstream fams(familyList);
  for (std::string f; std::getline(fams, f, ',');) {
    auto it = families.find(f);
    if (it == families.end()) return fail("unknown family " + f);
    if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
                         SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(it->second))) != 0) {
      return fail("cannot allow socket family " + f);
    }
  }

  if (denyWriteExecute) {
    // Allowed when not both writable and executable: either bit clear.
    for (scmp_datum_t bit :
         {static_cast<scmp_datum_t>(PROT_WRITE), static_cast<scmp_datum_t>(PROT_EXEC)}) {
      if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                           SCMP_A2(SCMP_CMP_MASKED_EQ, bit, 0)) != 0) {
        return fail("cannot add the mmap rule");
      }
    }
    const scmp_datum_t exec = PROT_EXEC;
    if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                         SCMP_A2(SCMP_CMP_MASKED_EQ, exec, 0)) != 0 ||
        seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(pkey_mprotect), 1,
                         SCMP_A2(SCMP_CMP_MASKED_EQ, exec, 0)) != 0 ||
        seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(shmat), 1,
                         SCMP_A2(SCMP_CMP_MASKED_EQ, static_cast<scmp_datum_t>(SHM_EXEC), 0)) !=
            0) {
      return fail("cannot add the mprotect rules");
    }
  }

  if (allowed == 0) return fail(listFile + " allows no system call");
  if (int rc = seccomp_load(ctx); rc != 0)
    return fail(std::string("seccomp_load: ") + std::strerror(-rc));
  seccomp_release(ctx);
  execvp(command[0], command);
  return fail(std::string("cannot run ") + command[0] + ": " + std::strerror(errno));
}

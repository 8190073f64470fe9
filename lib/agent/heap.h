// The agent's heap between syncs (glibc malloc).
#pragma once

namespace svcnft::agent {

// After a full sync: gives the pages it freed back to the system, and leaves the
// heap's free lists sorted, so that the next partial sync does not pay for the
// full sync's frees. Takes milliseconds at 50,000 Services; call it off the
// change path.
void settleHeapAfterFullSync();

}  // namespace svcnft::agent

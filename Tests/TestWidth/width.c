#include <stdlib.h>

// Runs as the test binary loads, before Swift Testing reads its configuration: at most 32 tests at
// once, unless the variable is set already (README, "The two commands"). All at once (Swift
// Testing's default), a slow or loaded machine timed out tests that wait a bounded time for a
// plugin, a socket or the store's writer.
__attribute__((constructor)) static void limitTestsRunningAtOnce(void) {
    setenv("SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH", "32", 0);
}

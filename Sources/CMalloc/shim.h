// The allocator's statistics and trim, which Swift's Glibc module leaves out (<malloc.h>), behind
// two functions that build everywhere: glibc's mallinfo2 came in 2.33 (mallinfo before it counts
// in an int), and musl and Darwin have neither, nor malloc_trim.
// (<malloc.h> defines __GLIBC__ where it is glibc's; Darwin has none at this path.)
#if __has_include(<malloc.h>)
#include <malloc.h>
#endif

/// Bytes the allocator holds free, given back to the system or not; -1 where it cannot tell.
static inline long long cmalloc_free_bytes(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    return (long long)mallinfo2().fordblks;
#elif defined(__GLIBC__)
    return (long long)(unsigned int)mallinfo().fordblks;
#else
    return -1;
#endif
}

/// Gives the free memory the allocator holds back to the system, where it can.
static inline void cmalloc_trim(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

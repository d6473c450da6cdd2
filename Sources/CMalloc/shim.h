// glibc's malloc statistics and trim (mallinfo2, malloc_trim), which Swift's Glibc module leaves out.
#if __has_include(<malloc.h>)
#include <malloc.h>
#endif

/*
 * alloc.c: allocation helpers that check the size arithmetic before they allocate.
 */
#include <stdlib.h>

#include "dm_base.h"

void *dm_malloc_n(size_t n, size_t size) {
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) return NULL;
    return malloc(bytes);
}

void *dm_aligned_alloc(size_t align, size_t bytes) {
    if (align == 0 || (align & (align - 1)) != 0 || bytes > SIZE_MAX - (align - 1)) return NULL;
    return aligned_alloc(align, (bytes + align - 1) & ~(align - 1));
}

/* CSupport: tiny C helpers Swift has no spelling for (cache prefetch hints). */
#ifndef LOOKUP_CSUPPORT_H
#define LOOKUP_CSUPPORT_H

/* Hints the CPU to start loading the cache line at p (for reading). */
static inline void lookup_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

#endif

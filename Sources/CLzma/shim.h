/* CLzma: exposes the system liblzma to Swift, for reading .xz inputs. */
#ifndef CLZMA_SHIM_H
#define CLZMA_SHIM_H
#include <lzma.h>

/* LZMA_CONCATENATED is spelled with UINT32_C, which Swift does not import. */
static const uint32_t clzma_concatenated = LZMA_CONCATENATED;
#endif

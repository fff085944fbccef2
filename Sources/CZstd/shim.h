/* CZstd: exposes the system libzstd to Swift, for reading .zst inputs and writing .zst outputs. */
#ifndef CZSTD_SHIM_H
#define CZSTD_SHIM_H
#include <zstd.h>
#endif

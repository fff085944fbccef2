/* CZlib: exposes the system zlib to Swift, for reading .gz inputs. */
#ifndef CZLIB_SHIM_H
#define CZLIB_SHIM_H
#include <zlib.h>
#endif

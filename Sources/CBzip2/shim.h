/* CBzip2: exposes the system libbz2 to Swift, for reading .bz2 inputs. */
#ifndef CBZIP2_SHIM_H
#define CBZIP2_SHIM_H
#include <bzlib.h>
#endif

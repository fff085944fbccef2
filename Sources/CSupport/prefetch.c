/* CSupport: the helpers are static inline in include/CSupport.h; this file gives the target a source. */
#include "CSupport.h"

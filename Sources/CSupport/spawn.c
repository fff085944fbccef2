/* Spawn file actions that need _GNU_SOURCE (which Swift's Glibc import does not define). */
#define _GNU_SOURCE
#include "CSupport.h"

#include <spawn.h>

int lookup_spawn_close_from(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

/* CSupport: tiny C helpers Swift has no spelling for (cache prefetch hints, the fault guard's
 * signal handlers, sync_file_range, closing descriptors at a spawn). */
#ifndef LOOKUP_CSUPPORT_H
#define LOOKUP_CSUPPORT_H

#include <spawn.h>

/* Hints the CPU to start loading the cache line at p (for reading). */
static inline void lookup_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

/* Creates a pipe whose ends are close-on-exec (and non-blocking when asked) atomically: 0, or
 * -1 with errno. */
int lookup_pipe_cloexec(int fds[2], int nonblocking);

/* Arms the fault guard: on SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP or SIGABRT the process writes
 * `before`, the signal's name and `after` to `fd` (none when fd < 0) in one write and exits with
 * `status`. Re-arming replaces the line. Returns 0, or -1 when it could not be armed. */
int lookup_fault_guard_arm(int fd, const char *before, const char *after, int status);

/* Trips an armed guard for `cause` (e.g. an LMDB assertion): writes its line and exits. Returns
 * (does nothing) when the guard is not armed. */
void lookup_fault_guard_trip(const char *cause);

/* Starts writing bytes [offset, offset + length) of fd to disk; with `wait`, waits until they
 * are written (sync_file_range). 0, or -1 with errno. */
int lookup_writeback(int fd, long long offset, long long length, int wait);

/* Adds to `actions` the closing of every descriptor from `from` up in the child
 * (posix_spawn_file_actions_addclosefrom_np): 0, or an error number. */
int lookup_spawn_close_from(posix_spawn_file_actions_t *actions, int from);

#endif

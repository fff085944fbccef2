/* The fault guard: turns a fatal signal met while reading a table (SIGSEGV, SIGBUS, SIGILL,
 * SIGFPE, SIGTRAP, SIGABRT) into one prepared line and a chosen exit status, instead of a crash
 * report. LMDB trusts the pages it reads: in a damaged file a garbage page number or node size
 * sends it astray. The handler only calls async-signal-safe functions (write, _exit). */
#define _GNU_SOURCE
#include "CSupport.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char guard_before[4096];
static char guard_after[4096];
static int guard_fd = -1;
static int guard_status = 2;
static volatile sig_atomic_t guard_armed = 0;

static const int guarded_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGABRT };

static const char *signal_name(int sig) {
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    case SIGFPE: return "SIGFPE";
    case SIGTRAP: return "SIGTRAP";
    case SIGABRT: return "SIGABRT";
    default: return "a fatal signal";
    }
}

void lookup_fault_guard_trip(const char *cause) {
    if (!guard_armed) return;
    guard_armed = 0;
    if (guard_fd >= 0) {
        /* One write, so the line is not torn by other writers. */
        char line[8192 + 64];
        size_t n = 0, len;
        len = strlen(guard_before); memcpy(line + n, guard_before, len); n += len;
        len = strnlen(cause, 60); memcpy(line + n, cause, len); n += len;
        len = strlen(guard_after); memcpy(line + n, guard_after, len); n += len;
        ssize_t ignored = write(guard_fd, line, n);
        (void)ignored;
    }
    _exit(guard_status);
}

static void guard_handler(int sig) {
    lookup_fault_guard_trip(signal_name(sig));
    /* Not armed: die of the signal as if there were no handler. */
    signal(sig, SIG_DFL);
    raise(sig);
}

int lookup_fault_guard_arm(int fd, const char *before, const char *after, int status) {
    static int stack_ready = 0;
    if (strlen(before) >= sizeof guard_before || strlen(after) >= sizeof guard_after) return -1;
    guard_armed = 0;
    strcpy(guard_before, before);
    strcpy(guard_after, after);
    guard_fd = fd;
    guard_status = status;
    if (!stack_ready) {
        /* Its own stack, so a fault from a stack overflow still reaches the handler. */
        stack_t ss;
        ss.ss_size = 64 * 1024;
        ss.ss_sp = malloc(ss.ss_size);
        ss.ss_flags = 0;
        if (ss.ss_sp == NULL || sigaltstack(&ss, NULL) != 0) return -1;
        stack_ready = 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = guard_handler;
    sa.sa_flags = SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof guarded_signals / sizeof guarded_signals[0]; i++) {
        if (sigaction(guarded_signals[i], &sa, NULL) != 0) return -1;
    }
    guard_armed = 1;
    return 0;
}

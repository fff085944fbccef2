/* Pipes whose ends are close-on-exec from the start (pipe2), so no child spawned meanwhile by
 * another thread inherits them. */
#define _GNU_SOURCE
#include "CSupport.h"

#include <fcntl.h>
#include <unistd.h>

int lookup_pipe_cloexec(int fds[2], int nonblocking) {
    return pipe2(fds, O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0));
}

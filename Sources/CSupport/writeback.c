/* writeback.c: starting and waiting for the writeback of a file range (sync_file_range, a
 * Linux call the Swift Glibc module does not expose). */
#define _GNU_SOURCE
#include <fcntl.h>
#include "CSupport.h"

int lookup_writeback(int fd, long long offset, long long length, int wait) {
#ifdef __linux__
    unsigned flags = SYNC_FILE_RANGE_WRITE;
    if (wait) flags |= SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WAIT_AFTER;
    return sync_file_range(fd, offset, length, flags);
#else
    (void)fd; (void)offset; (void)length; (void)wait;
    return 0;
#endif
}

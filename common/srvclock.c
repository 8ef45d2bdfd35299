/*
 * srvclock.c - the server clock read from CLOCK_REALTIME.
 */
#include <time.h>

#include "srvclock.h"

int64_t srvclock_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * SRVCLOCK_RATE + (int64_t)ts.tv_nsec * SRVCLOCK_RATE / 1000000000;
}

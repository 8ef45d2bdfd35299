/*
 * listen.h - a worker's listening sockets.
 *
 * An address is "HOST:PORT", "[V6ADDR]:PORT", "unix:/PATH" or "fd:N" (a
 * socket inherited on descriptor N, as systemd's socket activation hands
 * it over; NULL means descriptor 0).  A unix socket is made afresh (a
 * stale one removed) with the given mode: the API socket is as open as its
 * folder, since nginx may run as another user; the operator socket is the
 * owner's alone.
 */
#ifndef BB_LISTEN_H
#define BB_LISTEN_H

#include <stdbool.h>
#include <sys/types.h>

/* Opens the listening socket of `addr`; with loopback_only, a TCP address
 * must be on 127.0.0.0/8 or ::1.  Returns the descriptor, or -1 after
 * saying why on stderr. */
int ln_open(const char *addr, bool loopback_only, mode_t unix_mode);

#endif

/*
 * loadpool.h - bb-load's connections and the pools that share them.
 *
 * Over HTTP each singer has a pool of one kept-alive connection of its own,
 * as a browser does; over FastCGI each worker socket has a pool of
 * --fcgi-conns kept-alive connections shared by the singers assigned to
 * it, as nginx's upstream keepalive does, requests waiting their turn in
 * FIFO order.  Connections open on first use, and after a failed connect
 * not again for 100 ms.  When an exchange ends, the pool calls the loop's
 * done function (load.h) for the singer whose request it was.
 */
#ifndef BB_LOADPOOL_H
#define BB_LOADPOOL_H

#include <stdint.h>

#include "load.h"

/* Adds a new (unopened) connection to addr to pool p, owned by the loop.
 * 0, or -1 when memory runs out. */
int load_pool_add_conn(loop_t *L, pool_t *p, const bbc_addr_t *addr);

/* Sends singer ls's pending request (ls->req) on an idle connection of its
 * pool, or on a closed one it may reopen, or queues it until one is free. */
void load_pool_submit(loop_t *L, lsinger_t *ls);

/* Gives idle (or reopenable) connections of p to the singers waiting. */
void load_pool_kick(loop_t *L, pool_t *p);

/* Closes k's socket (the connection stays in its pool, closed). */
void load_conn_close(loop_t *L, lconn_t *k);

/* Handles epoll `events` on connection k: a connect that completed or
 * failed, room to send, bytes of the answer, the peer closing. */
void load_pool_on_io(loop_t *L, lconn_t *k, uint32_t events);

/* Ends, as timed out, every exchange past its deadline. */
void load_pool_scan_timeouts(loop_t *L);

#endif

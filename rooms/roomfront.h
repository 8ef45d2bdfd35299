/* roomfront: which host a front nginx sends a room to.
 *
 * With several hosts behind a front (deploy/nginx/front.conf), the front
 * picks a room's host by consistent hashing on the room's id, and a room
 * must be created on the host the front picks for its id. The only one who
 * knows that pick is the front itself, so this module asks it: a probe
 * GET FRONT/api?room=ID, whose answer carries the name of the host that
 * answered in X-BB-Host (added by every host's nginx, bb-fastcgi.conf).
 * The room need not exist yet: the host refuses the probe (403), and the
 * refusal names the host too.
 *
 * The front is usually another machine and speaks HTTPS, so the probe is
 * made by curl(1), started directly (no shell) with a fixed list of
 * arguments and the URL as one of them; it ignores ~/.curlrc, follows at
 * most 3 redirects (an http:// front that sends to https://) and gives up
 * after 10 s. curl's own environment applies: CURL_CA_BUNDLE for a front
 * whose certificate a private CA signed, the usual proxy variables.
 *
 * Nothing here logs; errors come back as a code and an English message.
 */
#ifndef BB_ROOMS_ROOMFRONT_H
#define BB_ROOMS_ROOMFRONT_H

#include <stddef.h>

#define RF_HOST_MAX 64  /* characters of a host name (install.sh --host-name) */
#define RF_URL_MAX 512  /* bytes of a front URL, NUL included */
#define RF_MSG_MAX 384  /* bytes of an error message, NUL included */

typedef enum {
    RF_OK = 0,
    RF_ERR_ARG = -1,     /* NULL, a URL that is not http(s)://HOST..., a bad id */
    RF_ERR_RUN = -2,     /* curl could not be started (not installed?) */
    RF_ERR_FETCH = -3,   /* curl failed: no connection, TLS, timeout... */
    RF_ERR_NO_HOST = -4  /* the front answered, but no X-BB-Host named a host */
} rf_error_t;

/* Returns a static English description of an rf_error_t value; never
 * NULL, also for unknown values. */
const char *rf_strerror(int err);

/* Returns 1 if name can be a host's name: 1 to RF_HOST_MAX characters of
 * A-Z a-z 0-9 '.' '-' '_' (what install.sh --host-name accepts), else 0
 * (also for NULL). */
int rf_host_name_valid(const char *name);

/* Asks the front at front_url (http:// or https://, no '?' or '#', no
 * trailing slash needed) which host it sends room id to, by the probe
 * GET front_url/api?room=id. On success writes the host's name (it passed
 * rf_host_name_valid()) into host (hostcap bytes, RF_HOST_MAX + 1 is
 * enough) and returns RF_OK. Otherwise returns RF_ERR_ARG, RF_ERR_RUN,
 * RF_ERR_FETCH (msg holds curl's own words) or RF_ERR_NO_HOST, with an
 * English message in msg (msgcap bytes; RF_MSG_MAX is enough) when msg is
 * not NULL. Blocks for at most about 10 s. */
int rf_host_of(const char *front_url, const char *id, char *host, size_t hostcap, char *msg,
               size_t msgcap);

#endif

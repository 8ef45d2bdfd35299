/*
 * listen.c - opening a worker's listening sockets (listen.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen.h"

static bool is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return false;
}

static int listen_unix(const char *path, mode_t mode)
{
    struct sockaddr_un sa = {0};
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "bb-worker: socket path too long: %s\n", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "bb-worker: socket(AF_UNIX): %s\n", strerror(errno));
        return -1;
    }
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 1024) < 0) {
        fprintf(stderr, "bb-worker: bind/listen(%s): %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    chmod(path, mode);
    return fd;
}

static int listen_tcp(const char *addr, bool loopback_only)
{
    char host[256];
    const char *port;
    if (addr[0] == '[') {
        const char *e = strchr(addr, ']');
        if (!e || e[1] != ':' || (size_t)(e - addr - 1) >= sizeof host) {
            fprintf(stderr, "bb-worker: bad address '%s' (want [V6ADDR]:PORT)\n", addr);
            return -1;
        }
        memcpy(host, addr + 1, (size_t)(e - addr - 1));
        host[e - addr - 1] = '\0';
        port = e + 2;
    } else {
        const char *c = strrchr(addr, ':');
        if (!c || (size_t)(c - addr) >= sizeof host) {
            fprintf(stderr, "bb-worker: bad address '%s' (want HOST:PORT)\n", addr);
            return -1;
        }
        memcpy(host, addr, (size_t)(c - addr));
        host[c - addr] = '\0';
        port = c + 1;
    }
    struct addrinfo hints = {0}, *ai;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
    if (rc) {
        fprintf(stderr, "bb-worker: getaddrinfo(%s): %s\n", addr, gai_strerror(rc));
        return -1;
    }
    if (loopback_only && !is_loopback(ai->ai_addr)) {
        fprintf(stderr, "bb-worker: %s is not a loopback address\n", addr);
        freeaddrinfo(ai);
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
        fprintf(stderr, "bb-worker: bind/listen(%s): %s\n", addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    return fd;
}

int ln_open(const char *addr, bool loopback_only, mode_t unix_mode)
{
    if (!addr || strncmp(addr, "fd:", 3) == 0) {
        int fd = addr ? atoi(addr + 3) : 0;
        int type;
        socklen_t len = sizeof type;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
            fprintf(stderr, "bb-worker: descriptor %d is not a socket (%s); give --listen\n", fd,
                    strerror(errno));
            return -1;
        }
        return fd;
    }
    if (strncmp(addr, "unix:", 5) == 0)
        return listen_unix(addr + 5, unix_mode);
    return listen_tcp(addr, loopback_only);
}


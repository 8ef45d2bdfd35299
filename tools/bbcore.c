/*
 * bbcore.c - the client's error strings and clock (bbcore.h).
 */
#include "bbcore.h"

#include <time.h>

const char *bbc_strerror(int code)
{
    switch (code) {
    case BBC_OK: return "success";
    case BBC_ESYS: return "system call failed";
    case BBC_EPARAM: return "invalid argument";
    case BBC_ENOMEM: return "out of memory";
    case BBC_EADDR: return "bad or non-loopback address";
    case BBC_ETIMEOUT: return "timed out";
    case BBC_ECLOSED: return "connection closed by the server";
    case BBC_EPROTO: return "malformed answer";
    case BBC_ESTATUS: return "unexpected HTTP status";
    case BBC_EKILL: return "server sent kill_client";
    case BBC_EMETA: return "bad X-Audio-Metadata";
    case BBC_EBODY: return "bad pack_multi body";
    case BBC_EDECODE: return "Opus decoding failed or wrong length";
    case BBC_ECONTINUITY: return "clock continuity broken";
    case BBC_EOPUS: return "Opus codec error";
    case BBC_ESTATE: return "call in the wrong state";
    case BBC_EREJECTED: return "FastCGI request rejected";
    default: return "unknown error";
    }
}

int64_t bbc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

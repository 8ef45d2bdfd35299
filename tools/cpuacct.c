/*
 * cpuacct.c - CPU accounting of the load generator (cpuacct.h).
 */
#include "cpuacct.h"

#include <glob.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <opus.h>

/* utime + stime of a process in seconds, or -1 if it is gone. */
static double proc_cpu(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    /* after ") ": state(3) ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime(14) stime(15) */
    unsigned long long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double cpuacct_self(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

double cpuacct_decode_floor(const bbc_preenc_t *pre)
{
    enum { DECODERS = 64, ROUNDS = 10 };
    OpusDecoder *dec[DECODERS];
    float pcm[2880];
    size_t count = bbc_preenc_count(pre);
    int e, n = 0;
    bool ok = true;
    for (int i = 0; i < DECODERS; i++)
        if (!(dec[i] = opus_decoder_create(48000, 1, &e))) {
            while (i-- > 0)
                opus_decoder_destroy(dec[i]);
            return 0;
        }
    double t0 = cpuacct_self();
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < DECODERS; i++) {
            for (int k = 0; k < 10; k++) {
                size_t len, j = ((size_t)i * 37 + (size_t)r * 10 + (size_t)k) % count;
                const uint8_t *pk = bbc_preenc_packet(pre, j, &len);
                if (opus_decode_float(dec[i], pk, (opus_int32)len, pcm, 2880, 0) < 0)
                    ok = false;
            }
            n++;
        }
    double cpu = cpuacct_self() - t0;
    for (int i = 0; i < DECODERS; i++)
        opus_decoder_destroy(dec[i]);
    if (!ok)
        return 0;
    /* A batch is 600 ms: a singer needs 1/0.6 of them per second. */
    return cpu > 0 ? 0.6 * n / cpu : 0;
}

static void add_pid(cpuacct_t *c, int pid)
{
    if (pid <= 0 || c->n >= CPUACCT_MAX_PIDS)
        return;
    for (int i = 0; i < c->n; i++)
        if (c->pids[i] == pid)
            return;
    c->pids[c->n] = pid;
    c->last[c->n] = proc_cpu(pid);
    c->n++;
}

void cpuacct_watch(cpuacct_t *c, const char *pids_arg, const char *pid_glob)
{
    if (pids_arg) {
        char *copy = strdup(pids_arg), *save = NULL;
        for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
            add_pid(c, atoi(t));
        free(copy);
    }
    if (pid_glob) {
        glob_t g;
        if (glob(pid_glob, 0, NULL, &g) == 0) {
            for (size_t i = 0; i < g.gl_pathc; i++) {
                FILE *f = fopen(g.gl_pathv[i], "r");
                int pid = 0;
                if (f) {
                    /* a pid file holds one pid; a list file one per line */
                    while (fscanf(f, "%d", &pid) == 1)
                        add_pid(c, pid);
                    fclose(f);
                }
            }
            globfree(&g);
        }
    }
}

double cpuacct_delta(cpuacct_t *c)
{
    double d = 0;
    for (int i = 0; i < c->n; i++) {
        double now = proc_cpu(c->pids[i]);
        if (now >= 0 && c->last[i] >= 0)
            d += now - c->last[i];
        c->last[i] = now;
    }
    return d;
}

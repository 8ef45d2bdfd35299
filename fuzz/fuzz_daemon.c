/*
 * fuzz_daemon.c - the daemon's handling of commands from the workers'
 * lanes (shm/daemon.h, shm/cmdq.h).
 *
 * The lanes live in shared memory that every worker process can write, so
 * one buggy or half-dead worker can leave any bytes in a command cell.  The
 * daemon must survive whatever it pops: a crash or a hang of the one
 * daemon stops every singer on the host.
 *
 * Set-up (once): a daemon over a private segment "/bbfuzz-daemon-<pid>"
 * (unlinked as soon as it is mapped), with lanes 0..3 claimed by the
 * harness.  Input: byte 0 is FLAGS, the rest is cut into sizeof(seg_cmd_t)
 * chunks (the last one zero-padded), each copied as it is into a command
 * cell of lane (chunk index % 4) with cq_push().  Only the type is folded
 * into 0..CMD_NTYPES (so every handler, and one unknown type, is reached
 * often); FLAGS bit 0 also folds userid and target onto four known users
 * (so commands meet users who exist), bit 1 puts the clocks (clock, a)
 * within a few seconds of the daemon's clock (so the song paths run past
 * their sanity checks); without those bits the values are raw, clocks
 * anywhere in int64 (the daemon bounds every command clock).  Then the
 * clock moves 60 ms and the daemon ticks; the four users are kept active
 * as their worker would.
 *
 * Invariants after each tick: the published user summary and track list
 * are valid JSON.
 */
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cmdq.h"
#include "room.h"
#include "fuzz.h"
#include "fzrig.h"
#include "ring.h"
#include "segment.h"
#include "snap.h"
#include "users.h"

#define LANES 4
#define NUSERS 4

static rig_t rig_;
static rm_t *dmn;
static seg_t *seg;
static int64_t now;

static void fz_cleanup(void)
{
    rig_close(&rig_);
    seg = NULL;
    dmn = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_rig_open(&rig_, "fuzz_daemon", "fuzz-daemon",
                &(rig_opts_t){.ring_seconds = 16, .user_cap = 32, .seed = 11}, 0, LANES);
    dmn = rig_.d;
    seg = rig_.seg;
    atexit(fz_cleanup);
    now = seg_now();
    now -= now % RING_OPUS_FRAME;
    for (int i = 0; i < 20; i++)
        rm_tick(dmn, now += 240);
    return 0;
}

static void check_blob(int which)
{
    static char buf[32768];
    _Static_assert(sizeof buf >= SEG_BLOB_SUMMARY_MAX && sizeof buf >= SEG_BLOB_TRACKS_MAX &&
                       sizeof buf >= SEG_BLOB_WORDS_MAX && sizeof buf >= SEG_BLOB_CUES_MAX,
                   "the buffer must hold every blob");
    uint64_t gen = 0;
    size_t len = 0;
    if (!snap_blob_read(seg, which, &gen, buf, sizeof buf, &len) || len == 0)
        return;
    cJSON *j = cJSON_ParseWithLength(buf, len);
    /* The words and their cues are objects, the others arrays. */
    FZ_ASSERT(j != NULL && (which == SEG_BLOB_WORDS || which == SEG_BLOB_CUES ? cJSON_IsObject(j)
                                                                              : cJSON_IsArray(j)));
    cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t flags = data[0];
    data++;
    size--;
    for (size_t off = 0, k = 0; off < size; off += sizeof(seg_cmd_t), k++) {
        seg_cmd_t c;
        size_t n = size - off < sizeof c ? size - off : sizeof c;
        memset(&c, 0, sizeof c);
        memcpy(&c, data + off, n);
        c.type %= CMD_NTYPES + 1;
        if (flags & 1) {
            c.userid = 1 + c.userid % NUSERS;
            c.target = seg_public_id(seg, 1 + c.target % NUSERS);
        }
        if (flags & 2) {
            c.clock = now - (int64_t)((uint64_t)c.clock % (4 * RING_SAMPLE_RATE));
            c.a = now - (int64_t)((uint64_t)c.a % (4 * RING_SAMPLE_RATE));
        }
        (void)cq_push(seg, (uint32_t)(k % LANES), &c);
    }
    now += RING_OPUS_FRAME;
    for (uint64_t u = 1; u <= NUSERS; u++) {
        int64_t i = users_find(seg, u);
        if (i >= 0)
            users_touch(seg, (uint32_t)i, now, 3 * RING_SAMPLE_RATE, 0);
    }
    rm_tick(dmn, now);
    check_blob(SEG_BLOB_SUMMARY);
    check_blob(SEG_BLOB_TRACKS);
    check_blob(SEG_BLOB_WORDS);
    check_blob(SEG_BLOB_CUES);
    return 0;
}

/*
 * test_songstate.c - what the page is told of the song, and the start
 * that cannot be.
 *
 * Through the worker's exchange and the real daemon (with a recordings
 * folder):
 *   - starting a metronome song with no tempo is refused with a sentence in
 *     the response ("refused"), by the worker, and the song does not start;
 *     naming the metronome and starting in the same request is refused, and
 *     so is a later start with the metronome still chosen;
 *   - once the tempo is set the same start goes ahead, and every response
 *     then carries the song's metronome tempo ("song_metronome"), no track
 *     name, and "recording" while the recorder writes the song;
 *   - the leader's responses carry every singer's live level ("levels",
 *     the console's meters), a singer's do not;
 *   - after the stop the metronome is no longer announced; the song's end
 *     sends a singer who sang it to the back (delay_seconds), but not the
 *     leader who stopped it, who stays in the leader's bucket.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "exclient.h"

#define METRONOME "track=metronome+--+set+BPM+below"

int main(void)
{
    CHECK_INIT(c);
    char dir[] = "/tmp/bb-songstate-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    wr_t r;
    if (rig_open(&r.k, "test-songstate", &(rig_opts_t){.ring_seconds = 32, .user_cap = 16, .seed = 3,
                                                         .recordings_dir = dir}) != 0)
        return 1;
    char why[256];
    seg_err_t err;
    if (seg_claim_lane(r.k.seg, 2, &err) != 0 || !(r.ex = ex_create(r.k.seg, 2, 16, NULL, why, sizeof why)))
        return 1;
    tick(&r, 50);
    static cl_t ann, bo;
    ann = (cl_t){.uid = "11111111111", .name = "Ann"};
    bo = (cl_t){.uid = "22222222222", .name = "Bo"};
    static float audio[N];
    connect_at(&ann, &r, 3);
    connect_at(&bo, &r, 6);
    CHECK_EQ_I(c, post(&r, &ann, NULL, NULL, NULL), 200);
    CHECK_EQ_I(c, post(&r, &bo, NULL, NULL, NULL), 200);
    tick(&r, 600);

    /* Lead; then name the metronome and start at once, with no tempo. */
    CHECK_EQ_I(c, post(&r, &ann, "request_lead=1", NULL, NULL), 200);
    tick(&r, 600);
    CHECK_EQ_I(c, post(&r, &ann, METRONOME "&mark_start_singing=1", NULL, NULL), 200);
    CHECK_MSG(c, has(ann.meta, "\"refused\":[\"start: the metronome has no tempo; set its BPM first\"]"),
              "meta: %.300s", ann.meta);
    tick(&r, 600);
    CHECK_EQ_I(c, post(&r, &ann, NULL, NULL, NULL), 200);
    CHECK(c, !has(ann.meta, "\"song_start_clock\""));
    CHECK(c, has(ann.meta, "\"leader\":\"11111111111\""));
    /* Asked for again later, the metronome still has no tempo. */
    tick(&r, 600);
    CHECK_EQ_I(c, post(&r, &ann, "mark_start_singing=1", NULL, NULL), 200);
    CHECK(c, has(ann.meta, "the metronome has no tempo"));
    tick(&r, 600);
    CHECK_EQ_I(c, post(&r, &ann, NULL, NULL, NULL), 200);
    CHECK(c, !has(ann.meta, "\"song_start_clock\""));

    /* With a tempo it starts; the song is announced with its metronome. */
    CHECK_EQ_I(c, post(&r, &ann, "bpm=90&mark_start_singing=1", NULL, NULL), 200);
    CHECK(c, !has(ann.meta, "\"refused\""));
    bool recording = false;
    for (int i = 0; i < 30 && !recording; i++) {
        tick(&r, 600);
        for (int k = 0; k < N; k++)
            audio[k] = tone(ann.read - N + k);
        CHECK_EQ_I(c, post(&r, &ann, NULL, audio, NULL), 200);
        for (int k = 0; k < N; k++)
            audio[k] = tone(bo.read - N + k);
        CHECK_EQ_I(c, post(&r, &bo, NULL, audio, NULL), 200);
        recording = has(ann.meta, "\"recording\":true");
    }
    CHECK_MSG(c, has(ann.meta, "\"song_start_clock\""), "meta: %.300s", ann.meta);
    CHECK(c, has(ann.meta, "\"song_metronome\":90"));
    CHECK(c, !has(ann.meta, "\"song_track\""));
    CHECK_MSG(c, recording, "never recording: %.300s", ann.meta);
    /* Levels: both singers, loud, to the leader only. */
    tick(&r, 200);
    for (int k = 0; k < N; k++)
        audio[k] = tone(ann.read + k);
    CHECK_EQ_I(c, post(&r, &ann, NULL, audio, NULL), 200);
    CHECK_MSG(c, has(ann.meta, "\"levels\":[[\""), "meta: %.400s", ann.meta);
    for (int who = 0; who < 2; who++) {
        char want[64];
        snprintf(want, sizeof want, "[\"%llu\",",
                 (unsigned long long)seg_public_id(r.k.seg, who ? 22222222222ull : 11111111111ull));
        const char *at = strstr(ann.meta, want);
        CHECK_MSG(c, at != NULL, "no level for %s in %.400s", want, strstr(ann.meta, "\"levels\""));
        if (at) {
            int db = atoi(at + strlen(want));
            CHECK_MSG(c, db > -30 && db < 0, "level %d dB", db);
        }
    }
    CHECK(c, !has(bo.meta, "\"levels\""));

    /* Stopped: the metronome is no longer announced.  Both sing on past
     * the end: Bo is sent to the back, Ann stays. */
    for (int k = 0; k < N; k++)
        audio[k] = tone(ann.read + k);
    CHECK_EQ_I(c, post(&r, &ann, "mark_stop_singing=1", audio, NULL), 200);
    bool ann_moved = false, bo_moved = false;
    for (int i = 0; i < 16; i++) {
        tick(&r, 600);
        for (int k = 0; k < N; k++)
            audio[k] = tone(ann.read + k);
        CHECK_EQ_I(c, post(&r, &ann, NULL, audio, NULL), 200);
        ann_moved |= has(ann.meta, "\"delay_seconds\"");
        for (int k = 0; k < N; k++)
            audio[k] = tone(bo.read + k);
        CHECK_EQ_I(c, post(&r, &bo, NULL, audio, NULL), 200);
        bo_moved |= has(bo.meta, "\"delay_seconds\"");
    }
    CHECK(c, has(ann.meta, "\"song_end_clock\""));
    CHECK(c, !has(ann.meta, "\"song_metronome\""));
    CHECK_MSG(c, bo_moved, "Bo was not sent to the back: %.300s", bo.meta);
    CHECK(c, !ann_moved);

    cl_free(&ann);
    cl_free(&bo);
    ex_destroy(r.ex);
    rig_close(&r.k);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "test_songstate: could not remove %s\n", dir);
    return check_done(&c, "test_songstate");
}

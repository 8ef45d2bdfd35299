/*
 * test_timing.c - the timing watch (mixer/timing.h) on synthetic singing.
 *
 * A sung voice (sung.h: harmonics with vibrato and tremolo, soft 20-50 ms
 * raised-cosine attacks, breaths, rests, a +-10 ms human spread per note,
 * breath noise) is fed as a worker feeds it, 600 ms at a time, against the
 * beats of a metronome or against a leader's voice heard 1.8 s ahead.
 * Checked: a singer 80 ms late or early is flagged with the offset within
 * 10 ms; singers on time in songs of several tempi, attacks, levels and
 * rooms are never flagged, not for a moment; silence, rests, noise and a
 * voice that follows no beat give no estimate and no flag; a singer within
 * the tolerance is not flagged, and a flag clears when the singer comes
 * back in time; the result does not depend on how the clocks are cut into
 * requests; another song starts the watch over.  Reverb delays a soft
 * note's entry against the beat (the tail hides its start): there the
 * offset is checked within -10..+20 ms; against a leader in the same room
 * the delay cancels and the check is 10 ms again.  Every figure is printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sung.h"
#include "timing.h"

#define RATE 48000
#define BATCH 28800
#define AHEAD (3 * BATCH)              /* the reference is read 1.8 s ahead */
#define MAX_SECS 48

static float voice[MAX_SECS * RATE], lead[MAX_SECS * RATE + AHEAD];

/* A clock of today, on a whole Opus frame. */
#define T0 (INT64_C(80000000000000) - INT64_C(80000000000000) % 2880)

typedef struct {
    bool ever_flagged;     /* at any request */
    bool ever_median;      /* enough estimates, at some request */
    bool flagged;          /* at the end */
    int32_t offset_ms;
    bool have_median;
    float median_ms;
    uint32_t made, confident;
} run_t;

/* A song of `secs` seconds from clock t0 (beats from t0 + 1 s) with the
 * singer as v says, against the beats (l NULL) or the leader l; uploads of
 * `batch` samples.  The voice is rendered into voice[], the leader into
 * lead[]. */
static run_t sing(const sung_t *v, const sung_t *l, int secs, uint32_t batch, int64_t t0)
{
    uint32_t n = (uint32_t)secs * RATE;
    int64_t beat0 = t0 + RATE;
    sung_render(v, voice, n, t0, beat0);
    if (l)
        sung_render(l, lead, n + AHEAD, t0, beat0);
    tw_t *w = tw_create();
    tw_ref_t ref = {.basis = l ? TW_BASIS_LEADER : TW_BASIS_BEAT, .song = beat0, .beat0 = beat0,
                    .period = (int64_t)(60.0 / v->bpm * RATE)};
    run_t r = {0};
    if (l)
        tw_reference(w, t0, lead, AHEAD);
    for (uint32_t i = 0; i + batch <= n; i += batch) {
        if (l)
            tw_reference(w, t0 + AHEAD + i, lead + AHEAD + i, batch);
        uint32_t m = tw_voice(w, &ref, t0 + i, voice + i, batch);
        tw_estimate_t e;
        if (m && tw_last_estimate(w, &e)) {
            r.made += m;
            r.confident += e.confident;
        }
        tw_verdict_t vd;
        tw_verdict(w, &vd);
        r.ever_flagged |= vd.flagged;
        r.ever_median |= vd.have_median;
    }
    tw_verdict_t vd;
    tw_verdict(w, &vd);
    r.flagged = vd.flagged;
    r.offset_ms = vd.offset_ms;
    r.have_median = vd.have_median;
    r.median_ms = vd.median_ms;
    tw_destroy(w);
    return r;
}

static void show(const char *what, const run_t *r)
{
    printf("test_timing: %-46s median %+7.1f ms%s, flagged %s (%+d ms), %u/%u estimates confident%s\n",
           what, r->have_median ? r->median_ms : 0.0, r->have_median ? "" : " (none)",
           r->flagged ? "yes" : "no", r->offset_ms, r->confident, r->made,
           r->ever_flagged && !r->flagged ? ", flagged on the way" : "");
}

/* A singer: soft attacks, vibrato, a human spread, breath noise. */
static sung_t singer(uint64_t score, uint64_t voice_seed, double bpm, double offset)
{
    return (sung_t){.score_seed = score, .voice_seed = voice_seed, .bpm = bpm, .attack_lo = 20,
                    .attack_hi = 50, .offset_ms = offset, .jitter_ms = 10, .level_db = -12,
                    .noise_db = -60, .reverb = 0, .rest_share = 0.2};
}

static void late_and_early(check_t *c)
{
    static const double bpm[3] = {84, 100, 126};
    for (int k = 0; k < 3; k++) {
        char what[80];
        for (int sign = -1; sign <= 1; sign += 2) {
            sung_t v = singer(11 + k, 21 + k, bpm[k], 80.0 * sign);
            run_t r = sing(&v, NULL, 30, BATCH, T0);
            snprintf(what, sizeof what, "%s 80 ms, beats at %.0f bpm:", sign > 0 ? "late" : "early", bpm[k]);
            show(what, &r);
            CHECK(*c, r.flagged);
            CHECK_NEAR(*c, r.offset_ms, 80.0 * sign, 10.0);
            /* Against a leader on time, heard 1.8 s ahead. */
            sung_t l = singer(11 + k, 31 + k, bpm[k], 0.0);
            r = sing(&v, &l, 30, BATCH, T0);
            snprintf(what, sizeof what, "%s 80 ms, after a leader at %.0f bpm:", sign > 0 ? "late" : "early",
                     bpm[k]);
            show(what, &r);
            CHECK(*c, r.flagged);
            CHECK_NEAR(*c, r.offset_ms, 80.0 * sign, 10.0);
        }
    }
}

/* Songs on time, as varied as a choir's evening: never a flag. */
static void on_time(check_t *c)
{
    static const double bpm[6] = {66, 80, 96, 112, 132, 150};
    static const double attack[6][2] = {{20, 30}, {30, 50}, {20, 50}, {40, 50}, {10, 20}, {20, 40}};
    static const double level[6] = {-12, -24, -6, -36, -18, -12};
    for (int k = 0; k < 6; k++) {
        sung_t v = singer(41 + k, 51 + k, bpm[k], 0.0);
        v.attack_lo = attack[k][0];
        v.attack_hi = attack[k][1];
        v.level_db = level[k];
        v.jitter_ms = 20;
        run_t r = sing(&v, NULL, 40, BATCH, T0);
        char what[80];
        snprintf(what, sizeof what, "on time, beats at %.0f bpm, %.0f dB:", bpm[k], level[k]);
        show(what, &r);
        CHECK(*c, !r.ever_flagged);
        CHECK(*c, r.ever_median);
        sung_t l = singer(41 + k, 61 + k, bpm[k], 0.0);
        l.attack_lo = attack[(k + 3) % 6][0];
        l.attack_hi = attack[(k + 3) % 6][1];
        r = sing(&v, &l, 40, BATCH, T0);
        snprintf(what, sizeof what, "on time, after a leader at %.0f bpm:", bpm[k]);
        show(what, &r);
        CHECK(*c, !r.ever_flagged);
        CHECK(*c, r.ever_median);
    }
    /* Within the tolerance: 25 ms late is not flagged. */
    sung_t v = singer(71, 72, 100, 25.0);
    run_t r = sing(&v, NULL, 30, BATCH, T0);
    show("25 ms late, beats at 100 bpm:", &r);
    CHECK(*c, !r.ever_flagged);
    CHECK_NEAR(*c, r.median_ms, 25.0, 10.0);
}

/* Nothing to go by: no estimate (not 0) and no flag. */
static void no_estimate(check_t *c)
{
    sung_t v = singer(81, 82, 100, 80.0);
    /* Silence: the voice of a singer who does not sing. */
    v.level_db = -200;
    v.noise_db = -300;
    run_t r = sing(&v, NULL, 20, BATCH, T0);
    show("silence, beats:", &r);
    CHECK_EQ_I(*c, r.confident, 0);
    CHECK(*c, !r.have_median && !r.ever_flagged);
    /* Breath noise alone. */
    v.noise_db = -45;
    r = sing(&v, NULL, 20, BATCH, T0);
    show("noise alone, beats:", &r);
    CHECK_EQ_I(*c, r.confident, 0);
    CHECK(*c, !r.have_median && !r.ever_flagged);
    /* A song of rests only. */
    v = singer(81, 82, 100, 80.0);
    v.rest_share = 1.0;
    r = sing(&v, NULL, 20, BATCH, T0);
    show("all rests, beats:", &r);
    CHECK_EQ_I(*c, r.confident, 0);
    CHECK(*c, !r.have_median && !r.ever_flagged);
    /* A leader who is silent: nothing to compare with. */
    v = singer(81, 82, 100, 80.0);
    sung_t l = v;
    l.level_db = -200;
    l.noise_db = -300;
    r = sing(&v, &l, 20, BATCH, T0);
    show("singing after a silent leader:", &r);
    CHECK_EQ_I(*c, r.confident, 0);
    CHECK(*c, !r.have_median && !r.ever_flagged);
    /* A voice that follows no beat: each note anywhere within +-250 ms. */
    for (int k = 0; k < 3; k++) {
        v = singer(91 + k, 92 + k, 90 + 15 * k, 0.0);
        v.jitter_ms = 250;
        r = sing(&v, NULL, 40, BATCH, T0);
        show("a voice that follows no beat:", &r);
        CHECK(*c, !r.ever_flagged);
    }
}

/* Rests: no estimates while resting, and the verdict stands. */
static void rests(check_t *c)
{
    sung_t v = singer(101, 102, 100, 80.0);
    uint32_t n = 40 * RATE;
    int64_t beat0 = T0 + RATE;
    sung_render(&v, voice, n, T0, beat0);
    /* A rest from 16 s to 32 s. */
    memset(voice + 16 * RATE, 0, 16 * RATE * sizeof(float));
    tw_t *w = tw_create();
    tw_ref_t ref = {.basis = TW_BASIS_BEAT, .song = beat0, .beat0 = beat0, .period = 28800};
    bool flag_before = false, confident_in_rest = false, flag_through = true, estimates_left = false;
    for (uint32_t i = 0; i + BATCH <= n; i += BATCH) {
        uint32_t m = tw_voice(w, &ref, T0 + i, voice + i, BATCH);
        tw_estimate_t e;
        tw_verdict_t vd;
        tw_verdict(w, &vd);
        bool in_rest = i >= 22 * RATE && i < 32 * RATE;   /* windows wholly in the rest */
        if (i < 16 * RATE)
            flag_before = vd.flagged;
        if (in_rest) {
            confident_in_rest |= m && tw_last_estimate(w, &e) && e.confident;
            flag_through &= vd.flagged;
            estimates_left |= i >= 26 * RATE && vd.estimates > 0;
        }
    }
    tw_verdict_t vd;
    tw_verdict(w, &vd);
    printf("test_timing: rest of 16 s: flagged before %s, through the rest %s, at the end %s (%+d ms)\n",
           flag_before ? "yes" : "no", flag_through ? "yes" : "no", vd.flagged ? "yes" : "no",
           vd.offset_ms);
    CHECK(*c, flag_before);
    CHECK(*c, !confident_in_rest);
    CHECK(*c, !estimates_left);       /* the 8 s of estimates ran out */
    CHECK(*c, flag_through);          /* and the verdict stood */
    CHECK(*c, vd.flagged);
    CHECK_NEAR(*c, vd.offset_ms, 80.0, 10.0);
    tw_destroy(w);
}

/* A singer 80 ms late who corrects to on time: the flag clears. */
static void clears(check_t *c)
{
    uint32_t n = 44 * RATE, half = 35 * BATCH;   /* 21 s */
    int64_t beat0 = T0 + RATE;
    sung_t v = singer(111, 112, 100, 80.0);
    sung_render(&v, voice, n, T0, beat0);
    static float on[44 * RATE];
    v.offset_ms = 0;
    sung_render(&v, on, n, T0, beat0);
    memcpy(voice + half, on + half, (n - half) * sizeof(float));
    tw_t *w = tw_create();
    tw_ref_t ref = {.basis = TW_BASIS_BEAT, .song = beat0, .beat0 = beat0, .period = 28800};
    bool flagged_mid = false;
    for (uint32_t i = 0; i + BATCH <= n; i += BATCH) {
        tw_voice(w, &ref, T0 + i, voice + i, BATCH);
        tw_verdict_t vd;
        tw_verdict(w, &vd);
        if (i + BATCH == half)
            flagged_mid = vd.flagged;
    }
    tw_verdict_t vd;
    tw_verdict(w, &vd);
    printf("test_timing: late for 21 s, then on time: flagged at 21 s %s, at 44 s %s (median %+.1f ms)\n",
           flagged_mid ? "yes" : "no", vd.flagged ? "yes" : "no", vd.median_ms);
    CHECK(*c, flagged_mid);
    CHECK(*c, !vd.flagged);
    CHECK_NEAR(*c, vd.median_ms, 0.0, 10.0);
    tw_destroy(w);
}

/* Reverb, level, and the leader in the same room. */
static void rooms(check_t *c)
{
    sung_t v = singer(121, 122, 96, 80.0);
    v.reverb = 0.3;
    run_t r = sing(&v, NULL, 30, BATCH, T0);
    show("late 80 ms in a reverberant room, beats:", &r);
    CHECK(*c, r.flagged);
    CHECK(*c, r.offset_ms >= 70 && r.offset_ms <= 100);
    v.offset_ms = 0;
    r = sing(&v, NULL, 30, BATCH, T0);
    show("on time in a reverberant room, beats:", &r);
    CHECK(*c, !r.ever_flagged);
    v.offset_ms = 80;
    sung_t l = singer(121, 123, 96, 0.0);
    l.reverb = 0.3;
    r = sing(&v, &l, 30, BATCH, T0);
    show("late 80 ms, a leader in the same room:", &r);
    CHECK(*c, r.flagged);
    CHECK_NEAR(*c, r.offset_ms, 80.0, 10.0);
    /* A quiet singer (-40 dB) after a loud leader. */
    v = singer(131, 132, 108, 80.0);
    v.level_db = -40;
    v.noise_db = -80;
    l = singer(131, 133, 108, 0.0);
    l.level_db = -6;
    r = sing(&v, &l, 30, BATCH, T0);
    show("late 80 ms, quiet (-40 dB), a loud leader:", &r);
    CHECK(*c, r.flagged);
    CHECK_NEAR(*c, r.offset_ms, 80.0, 10.0);
}

/* The same voice cut into requests differently, on clocks off the step
 * grid, gives the same verdict. */
static void cuts(check_t *c)
{
    sung_t v = singer(141, 142, 100, 80.0);
    sung_t l = singer(141, 143, 100, 0.0);
    run_t a = sing(&v, &l, 30, BATCH, T0);
    run_t b = sing(&v, &l, 30, 2880 * 3, T0 + 1001);
    run_t d = sing(&v, NULL, 30, 2880 * 7, T0 + 77);
    printf("test_timing: cut into 600 ms on the grid %+.1f ms, 180 ms off the grid %+.1f ms, beats in 420 ms %+.1f ms\n",
           a.median_ms, b.median_ms, d.median_ms);
    CHECK(*c, a.flagged && b.flagged && d.flagged);
    CHECK_NEAR(*c, a.median_ms, b.median_ms, 4.0);
    CHECK_NEAR(*c, d.median_ms, 80.0, 10.0);
}

/* Streams: a gap in the voice keeps the estimates; another song, another
 * grid, start over; the leader's reference must be there. */
static void streams(check_t *c)
{
    sung_t v = singer(151, 152, 100, 80.0);
    uint32_t n = 30 * RATE;
    int64_t beat0 = T0 + RATE;
    sung_render(&v, voice, n, T0, beat0);
    tw_t *w = tw_create();
    tw_ref_t ref = {.basis = TW_BASIS_BEAT, .song = beat0, .beat0 = beat0, .period = 28800};
    for (uint32_t i = 0; i + BATCH <= n; i += BATCH)
        if (i < 12 * RATE || i >= 13 * RATE)   /* a reconnection's gap */
            tw_voice(w, &ref, T0 + i, voice + i, BATCH);
    tw_verdict_t vd;
    tw_verdict(w, &vd);
    CHECK(*c, vd.flagged);
    CHECK_NEAR(*c, vd.offset_ms, 80.0, 10.0);
    /* The same grid in another song: started over. */
    tw_ref_t next = ref;
    next.song = beat0 + 60 * RATE;
    tw_voice(w, &next, T0 + n, voice, BATCH);
    tw_verdict(w, &vd);
    CHECK(*c, !vd.flagged && vd.estimates == 0);
    /* The leader basis without a reference heard: nothing to go by. */
    tw_init(w);
    tw_ref_t lr = {.basis = TW_BASIS_LEADER, .song = beat0};
    uint32_t made = 0;
    for (uint32_t i = 0; i + BATCH <= n; i += BATCH)
        made += tw_voice(w, &lr, T0 + i, voice + i, BATCH);
    tw_estimate_t e;
    CHECK_EQ_I(*c, made, 0);
    CHECK(*c, !tw_last_estimate(w, &e));
    /* The basis "none" measures nothing. */
    tw_ref_t none = {.basis = TW_BASIS_NONE};
    CHECK_EQ_I(*c, tw_voice(w, &none, T0, voice, BATCH), 0);
    tw_destroy(w);
}

/* The reference fed as step powers is the reference fed as samples. */
static void powers(check_t *c)
{
    sung_t v = singer(161, 162, 100, 80.0);
    sung_t l = singer(161, 163, 100, 0.0);
    uint32_t n = 24 * RATE;
    int64_t beat0 = T0 + RATE;
    sung_render(&v, voice, n, T0, beat0);
    sung_render(&l, lead, n + AHEAD, T0, beat0);
    tw_t *a = tw_create(), *b = tw_create();
    tw_ref_t ref = {.basis = TW_BASIS_LEADER, .song = beat0};
    static float pw[(24 * RATE + AHEAD) / TW_HOP];
    tw_step_power(lead, (n + AHEAD) / TW_HOP, pw);
    tw_reference(a, T0, lead, AHEAD);
    tw_reference_power(b, T0, pw, AHEAD / TW_HOP);
    for (uint32_t i = 0; i + BATCH <= n; i += BATCH) {
        tw_reference(a, T0 + AHEAD + i, lead + AHEAD + i, BATCH);
        tw_reference_power(b, T0 + AHEAD + i, pw + (AHEAD + i) / TW_HOP, BATCH / TW_HOP);
        tw_voice(a, &ref, T0 + i, voice + i, BATCH);
        tw_voice(b, &ref, T0 + i, voice + i, BATCH);
    }
    tw_verdict_t va, vb;
    tw_verdict(a, &va);
    tw_verdict(b, &vb);
    CHECK(*c, va.have_median && vb.have_median);
    CHECK_NEAR(*c, va.median_ms, vb.median_ms, 0.01);
    /* A power reference off the step grid is refused, not misplaced. */
    tw_reference_power(b, T0 + 5, pw, 10);
    uint32_t made = tw_voice(b, &ref, T0 + n, voice, BATCH);
    tw_estimate_t e;
    CHECK(*c, made == 0 || (tw_last_estimate(b, &e) && !e.confident));
    tw_destroy(a);
    tw_destroy(b);
    /* Silence heard, given as no powers at all (a song not yet reaching
     * the singer), is silence: no estimate, as from zero samples. */
    a = tw_create();
    b = tw_create();
    for (uint32_t i = 0; i + BATCH <= n; i += BATCH) {
        tw_reference(a, T0 + AHEAD + i, NULL, BATCH);
        tw_reference_power(b, T0 + AHEAD + i, NULL, BATCH / TW_HOP);
        tw_voice(a, &ref, T0 + i, voice + i, BATCH);
        tw_voice(b, &ref, T0 + i, voice + i, BATCH);
    }
    tw_verdict(a, &va);
    tw_verdict(b, &vb);
    CHECK(*c, !va.have_median && !vb.have_median && !vb.flagged);
    CHECK_EQ_I(*c, (int)va.estimates, (int)vb.estimates);
    tw_destroy(a);
    tw_destroy(b);
    /* The power of a step is its mean square. */
    float x[2 * TW_HOP], p[2];
    for (int i = 0; i < 2 * TW_HOP; i++)
        x[i] = i < TW_HOP ? 0.5f : (i % 2 ? 0.25f : -0.25f);
    tw_step_power(x, 2, p);
    CHECK_NEAR(*c, p[0], 0.25, 1e-6);
    CHECK_NEAR(*c, p[1], 0.0625, 1e-6);
}

static void api(check_t *c)
{
    CHECK(*c, tw_size() > 0);
    tw_destroy(NULL);
    CHECK_EQ_S(*c, tw_basis_name(TW_BASIS_BEAT), "beat");
    CHECK_EQ_S(*c, tw_basis_name(TW_BASIS_LEADER), "leader");
    CHECK_EQ_S(*c, tw_basis_name(TW_BASIS_NONE), "none");
    /* The state holds no pointers: a copy works on its own. */
    tw_t *a = tw_create(), *b = malloc(tw_size());
    sung_t v = singer(171, 172, 100, 80.0);
    int64_t beat0 = T0 + RATE;
    sung_render(&v, voice, 20 * RATE, T0, beat0);
    tw_ref_t ref = {.basis = TW_BASIS_BEAT, .song = beat0, .beat0 = beat0, .period = 28800};
    for (uint32_t i = 0; i < 10 * RATE; i += BATCH)
        tw_voice(a, &ref, T0 + i, voice + i, BATCH);
    memcpy(b, a, tw_size());
    for (uint32_t i = 10 * RATE; i + BATCH <= 20 * RATE; i += BATCH) {
        tw_voice(a, &ref, T0 + i, voice + i, BATCH);
        tw_voice(b, &ref, T0 + i, voice + i, BATCH);
    }
    tw_verdict_t va, vb;
    tw_verdict(a, &va);
    tw_verdict(b, &vb);
    CHECK(*c, memcmp(&va, &vb, sizeof va) == 0);
    CHECK(*c, va.flagged);
    tw_destroy(a);
    free(b);
}

int main(void)
{
    CHECK_INIT(c);
    api(&c);
    late_and_early(&c);
    on_time(&c);
    no_estimate(&c);
    rests(&c);
    clears(&c);
    rooms(&c);
    cuts(&c);
    streams(&c);
    powers(&c);
    return check_done(&c, "test_timing");
}

/*
 * song.c - the song state machine.
 */
#include <string.h>

#include "delay.h"
#include "song.h"
#include "tempo.h"

void song_reset(song_t *s, int32_t depth)
{
    memset(s, 0, sizeof *s);
    s->requested_track = SONG_TRACK_NONE;
    s->playing_track = SONG_TRACK_NONE;
    s->depth = dly_clamp_depth(depth);
    s->max_position = DELAY_INTERVAL * s->depth;
    s->first_bucket = DELAY_INTERVAL;
}

song_phase_t song_phase(const song_t *s)
{
    if (s->start == 0)
        return s->has_leader ? SONG_LEADING : SONG_IDLE;
    return s->end == 0 ? SONG_SINGING : SONG_ENDED;
}

void song_request_lead(song_t *s, uint64_t leader)
{
    s->start = 0;
    s->end = 0;
    s->metronome_on = 0;
    s->leader = leader;
    s->has_leader = 1;
}

bool song_may_control(const song_t *s, uint64_t who)
{
    return !s->has_leader || s->leader == who;
}

const char *song_start_refusal(int32_t requested_track, int32_t bpm)
{
    if (requested_track == SONG_TRACK_METRONOME && bpm <= 0)
        return "start: the metronome has no tempo; set its BPM first";
    return NULL;
}

song_start_action_t song_start(song_t *s, int64_t read_clock)
{
    if (read_clock <= 0)
        return SONG_START_NOTHING;
    if (song_start_refusal(s->requested_track, s->bpm))
        return SONG_START_REFUSED;
    s->start = read_clock;
    s->end = 0;
    s->metronome_on = 0;
    if (tempo_rounds_on(s->bpm, s->bpr, s->repeats))
        s->requested_track = SONG_TRACK_METRONOME;
    int32_t req = s->requested_track;
    s->requested_track = SONG_TRACK_NONE;
    if (req == SONG_TRACK_METRONOME) {
        s->metronome_on = 1;
        return SONG_START_METRONOME;
    }
    if (req >= 0) {
        s->playing_track = req;
        return SONG_START_TRACK;
    }
    return SONG_START_NOTHING;
}

void song_stop(song_t *s, int64_t end_clock)
{
    s->playing_track = SONG_TRACK_NONE;
    s->metronome_on = 0;
    s->has_leader = 0;
    s->leader = 0;
    s->end = end_clock > 0 ? end_clock : 1;
}

void song_track_ended(song_t *s, int64_t clock)
{
    s->playing_track = SONG_TRACK_NONE;
    if (s->start != 0 && s->end == 0)
        s->end = clock;
}

void song_request_track(song_t *s, int32_t track)
{
    if (s->start == 0)
        s->requested_track = track;
}

bool song_set_tempo(song_t *s, int32_t bpm, int32_t repeats, int32_t bpr)
{
    bool changed = false;
    if (bpm >= 1 && bpm <= TEMPO_BPM_MAX && bpm != s->bpm) {
        s->bpm = bpm;
        changed = true;
    }
    if (repeats >= 0 && repeats <= TEMPO_REPEATS_MAX && repeats != s->repeats) {
        s->repeats = repeats;
        changed = true;
    }
    if (bpr >= 0 && bpr <= TEMPO_BPR_MAX && bpr != s->bpr) {
        s->bpr = bpr;
        changed = true;
    }
    return changed;
}

bool song_upload_active(const song_t *s, int64_t w, uint32_t n)
{
    return s->start != 0 && w > s->start && (s->end == 0 || w - (int64_t)n < s->end);
}

bool song_read_active(const song_t *s, int64_t r, uint32_t n)
{
    return s->start != 0 && (s->end == 0 || r - (int64_t)n < s->end);
}

/* test_song.c - the song state machine and the gating rules. */
#include "check.h"
#include "song.h"

int main(void)
{
    CHECK_INIT(c);
    song_t s;
    song_reset(&s, 5);
    CHECK_EQ_I(c, song_phase(&s), SONG_IDLE);
    CHECK_EQ_I(c, s.max_position, 15);
    CHECK(c, !song_upload_active(&s, 1000, 10));
    CHECK(c, !song_read_active(&s, 1000, 10));

    /* Track requests are kept until a start. */
    song_request_track(&s, 2);
    CHECK_EQ_I(c, s.requested_track, 2);
    song_request_lead(&s, 42);
    CHECK_EQ_I(c, song_phase(&s), SONG_LEADING);
    CHECK(c, song_may_control(&s, 42));
    CHECK(c, !song_may_control(&s, 43));
    CHECK_EQ_I(c, song_start(&s, 0), SONG_START_NOTHING);   /* refused */
    CHECK_EQ_I(c, song_phase(&s), SONG_LEADING);
    CHECK_EQ_I(c, song_start(&s, 1000000), SONG_START_TRACK);
    CHECK_EQ_I(c, s.playing_track, 2);
    CHECK_EQ_I(c, s.requested_track, SONG_TRACK_NONE);
    CHECK_EQ_I(c, song_phase(&s), SONG_SINGING);
    /* A track request while a start is set is ignored (quirk 28). */
    song_request_track(&s, 3);
    CHECK_EQ_I(c, s.requested_track, SONG_TRACK_NONE);

    /* Gating (9.8 and 9.2). */
    CHECK(c, !song_upload_active(&s, 1000000, 2880));      /* w must exceed start */
    CHECK(c, song_upload_active(&s, 1000001, 2880));
    CHECK(c, song_read_active(&s, 900000, 2880));          /* no start check for reads */
    song_track_ended(&s, 2000000);
    CHECK_EQ_I(c, s.end, 2000000);
    CHECK_EQ_I(c, s.playing_track, SONG_TRACK_NONE);
    CHECK_EQ_I(c, song_phase(&s), SONG_ENDED);
    CHECK(c, song_upload_active(&s, 2000000 + 2879, 2880));  /* w - n < end */
    CHECK(c, !song_upload_active(&s, 2000000 + 2880, 2880));
    CHECK(c, song_read_active(&s, 2000000 + 2879, 2880));
    CHECK(c, !song_read_active(&s, 2000000 + 2880, 2880));

    /* Stop: leader cleared, end at the stopper's last write; 0 -> 1 so the
     * end is never "unset" (quirk 10). */
    song_request_lead(&s, 42);
    song_start(&s, 3000000);
    song_stop(&s, 3500000);
    CHECK_EQ_I(c, s.end, 3500000);
    CHECK(c, !s.has_leader);
    CHECK(c, song_may_control(&s, 7));
    song_request_lead(&s, 42);
    song_start(&s, 3000000);
    song_stop(&s, 0);
    CHECK_EQ_I(c, s.end, 1);

    /* Rounds turn into the metronome at start. */
    song_reset(&s, 5);
    CHECK(c, song_set_tempo(&s, 90, 3, 8));
    CHECK(c, !song_set_tempo(&s, 90, 3, 8));
    CHECK(c, !song_set_tempo(&s, 0, -1, 501));   /* out of range: unchanged */
    CHECK(c, s.bpm == 90 && s.repeats == 3 && s.bpr == 8);
    song_request_track(&s, 1);
    song_request_lead(&s, 5);
    CHECK_EQ_I(c, song_start(&s, 77), SONG_START_METRONOME);
    CHECK(c, s.metronome_on);
    CHECK_EQ_I(c, s.playing_track, SONG_TRACK_NONE);
    /* A new lead stops the metronome and clears the song clocks. */
    song_request_lead(&s, 6);
    CHECK(c, !s.metronome_on && s.start == 0 && s.end == 0 && s.leader == 6);
    /* The metronome pseudo-track: never without a tempo (it would click
     * nothing), and the refusal changes nothing. */
    song_reset(&s, 5);
    song_request_track(&s, SONG_TRACK_METRONOME);
    CHECK(c, song_start_refusal(SONG_TRACK_METRONOME, 0) != NULL);
    CHECK(c, song_start_refusal(SONG_TRACK_METRONOME, 60) == NULL);
    CHECK(c, song_start_refusal(2, 0) == NULL);
    CHECK(c, song_start_refusal(SONG_TRACK_NONE, 0) == NULL);
    CHECK_EQ_I(c, song_start(&s, 99), SONG_START_REFUSED);
    CHECK(c, s.start == 0 && !s.metronome_on && s.requested_track == SONG_TRACK_METRONOME);
    CHECK_EQ_I(c, song_phase(&s), SONG_IDLE);
    CHECK(c, song_set_tempo(&s, 60, -1, -1));
    CHECK_EQ_I(c, song_start(&s, 99), SONG_START_METRONOME);
    CHECK(c, s.metronome_on && s.start == 99);
    return check_done(&c, "test_song");
}

/*
 * test_meta.c - parsing X-Audio-Metadata (bbc_meta_parse): a full sample of
 * a successful answer, a kill_client answer, the probe answer, absent and
 * null fields, a room's role and refusals, and input that is not an
 * object.
 */
#include <string.h>

#include "bbclient.h"
#include "check.h"

/* The checks of this test (check.h). */
static check_t ck;

static const char sample[] =
    "{\"server_clock\": 77040003312000, \"server_sample_rate\": 48000, \"last_request_clock\": 77040003311000, "
    "\"client_read_clock\": 77039999000000, \"client_write_clock\": null, \"n_samples\": 28800, "
    "\"user_summary\": [[3, \"Ann\", 1.0, \"pub-1\", false, false], "
    "[6, \"J\\u00fcrgen\", 1.5, \"pub-2\", true, false], [9, \"Bob\", 0.5, \"pub-3\", false, true]], "
    "\"queue_size\": 45000.0, \"events\": [{\"evid\": \"cue\", \"clock\": 77039998000000}], "
    "\"leader\": \"pub-1\", \"leader_name\": \"Ann\", \"public_id\": \"pub-2\", "
    "\"song_start_clock\": 77039990000000, \"song_end_clock\": 77040100000000, "
    "\"chats\": [[\"Ann\", \"hello\"], [\"Bob\", \"caf\\u00e9 \\ud83c\\udfb5\"]], \"bpm\": 90, \"repeats\": 0, "
    "\"bpr\": null, \"tracks\": [\"a.wav\", \"metronome -- set BPM below\"], \"delay_seconds\": 6, "
    "\"buckets\": [3, 6, 9, 12], \"n_users\": 3, \"worker\": 1}";

static void test_sample(void)
{
    bbc_meta_t m = { 0 };
    CHECK(ck, bbc_meta_parse(&m, sample) == BBC_OK);
    CHECK(ck, m.have_server_clock && m.server_clock == 77040003312000LL);
    CHECK(ck, m.server_sample_rate == 48000);
    CHECK(ck, m.have_client_read_clock && m.client_read_clock == 77039999000000LL);
    CHECK(ck, !m.have_client_write_clock);
    CHECK(ck, m.have_n_samples && m.n_samples == 28800);
    CHECK(ck, m.have_leader && strcmp(m.leader, "pub-1") == 0 && strcmp(m.leader_name, "Ann") == 0);
    CHECK(ck, strcmp(m.public_id, "pub-2") == 0);
    CHECK(ck, m.have_song_start && m.song_start_clock == 77039990000000LL);
    CHECK(ck, m.have_song_end && m.song_end_clock == 77040100000000LL);
    CHECK(ck, m.have_delay && m.delay_seconds == 6);
    CHECK(ck, m.have_bpm && m.bpm == 90 && m.have_repeats && m.repeats == 0 && m.have_bpr && m.bpr == 0);
    CHECK(ck, !m.kill_client);
    CHECK(ck, m.have_n_users && m.n_users == 3 && strcmp(m.worker, "1") == 0);
    CHECK(ck, cJSON_GetArraySize(m.events) == 1 && cJSON_GetArraySize(m.tracks) == 2 &&
          cJSON_GetArraySize(m.buckets) == 4);

    CHECK(ck, bbc_meta_chat_count(&m) == 2);
    const char *name, *text;
    CHECK(ck, bbc_meta_chat(&m, 1, &name, &text) == BBC_OK && strcmp(name, "Bob") == 0 &&
          strcmp(text, "caf\xc3\xa9 \xf0\x9f\x8e\xb5") == 0);
    CHECK(ck, bbc_meta_chat(&m, 2, &name, &text) == BBC_EPARAM);

    CHECK(ck, bbc_meta_user_count(&m) == 3);
    bbc_user_t u;
    CHECK(ck, bbc_meta_user(&m, 1, &u) == BBC_OK);
    CHECK(ck, u.delay_s == 6 && strcmp(u.name, "J\xc3\xbcrgen") == 0 && u.mic_volume == 1.5 &&
          strcmp(u.id, "pub-2") == 0 && u.is_monitoring && !u.is_monitored);
    CHECK(ck, bbc_meta_user(&m, 2, &u) == BBC_OK && u.is_monitored);
    CHECK(ck, bbc_meta_user(&m, 3, &u) == BBC_EPARAM);
    bbc_meta_free(&m);
    CHECK(ck, m.root == NULL && !m.have_server_clock);
}

static void test_other_shapes(void)
{
    bbc_meta_t m = { 0 };
    /* The probe answer. */
    CHECK(ck, bbc_meta_parse(&m, "{\"server_clock\": 77040003312000, \"server_sample_rate\": 48000}") == BBC_OK);
    CHECK(ck, m.have_server_clock && !m.have_client_read_clock && !m.events && !m.user_summary);
    /* The error answer (PROTOCOL.md 2.7). */
    CHECK(ck, bbc_meta_parse(&m, "{\"kill_client\": true, \"message\": \"Client read clock desync (1 - 2 = -1)\"}") ==
          BBC_OK);
    CHECK(ck, m.kill_client && strstr(m.message, "desync") != NULL && !m.have_server_clock);
    /* A numeric leader (the original compares loosely), null leader, no delay. */
    CHECK(ck, bbc_meta_parse(&m, "{\"leader\": 48213371202, \"client_write_clock\": 5, \"events\": []}") == BBC_OK);
    CHECK(ck, m.have_leader && strcmp(m.leader, "48213371202") == 0 && m.have_client_write_clock &&
          m.client_write_clock == 5 && !m.have_delay && m.events != NULL);
    CHECK(ck, bbc_meta_parse(&m, "{\"leader\": null, \"delay_seconds\": 0}") == BBC_OK);
    CHECK(ck, !m.have_leader && m.have_delay && m.delay_seconds == 0);
    /* A fractional clock is not an integer: read as absent. */
    CHECK(ck, bbc_meta_parse(&m, "{\"client_read_clock\": 1.5, \"n_samples\": \"28800\"}") == BBC_OK);
    CHECK(ck, !m.have_client_read_clock && !m.have_n_samples);
    /* A room's answer: the role, and the controls the role does not allow. */
    CHECK(ck, bbc_meta_parse(&m, "{\"role\": \"listener\", \"refused\": [\"a listener cannot lead\", 7, "
                                 "\"only the leader can stop\"]}") == BBC_OK);
    CHECK(ck, strcmp(m.role, "listener") == 0 && bbc_meta_refused_count(&m) == 3);
    CHECK(ck, strcmp(bbc_meta_refused(&m, 0), "a listener cannot lead") == 0);
    CHECK(ck, bbc_meta_refused(&m, 1) == NULL && bbc_meta_refused(&m, 3) == NULL &&
          bbc_meta_refused(&m, -1) == NULL);
    CHECK(ck, bbc_meta_was_refused(&m, "only the leader can stop") && !bbc_meta_was_refused(&m, "only the"));
    CHECK(ck, bbc_meta_parse(&m, "{\"role\": \"singer\"}") == BBC_OK);
    CHECK(ck, bbc_meta_refused_count(&m) == 0 && !bbc_meta_was_refused(&m, "a listener cannot lead"));
    /* Not an object. */
    CHECK(ck, bbc_meta_parse(&m, "[1, 2]") == BBC_EMETA && m.root == NULL);
    CHECK(ck, bbc_meta_parse(&m, "{\"server_clock\": ") == BBC_EMETA);
    CHECK(ck, bbc_meta_parse(&m, "undefined") == BBC_EMETA);
    CHECK(ck, bbc_meta_parse(&m, NULL) == BBC_EMETA);
    bbc_meta_free(&m);
    bbc_meta_free(NULL);
}

int main(void)
{
    test_sample();
    test_other_shapes();
    return check_done(&ck, "test_tools_meta");
}

/*
 * test_chat.c - chat is bounded and nobody speaks for another.
 *
 * Through the worker's exchange and the real daemon:
 *   - a request that names itself "Ann" while Ann is in the room posts
 *     under "Ann (2)", with its own public id, and the people list shows
 *     both; nobody appears under another's name;
 *   - right-to-left overrides, zero-width characters and C1 controls are
 *     taken out of names and messages, and a message of nothing else is
 *     no message;
 *   - a singer sends at most CM_CHAT_BURST messages at once and
 *     CM_CHAT_PER_MINUTE a minute: the rest is refused with a sentence in
 *     the response, and the audio of that request is served as usual;
 *     that sentence is given even beside every refusal a role can draw;
 *   - a message over 500 bytes is refused (400), and a response carries at
 *     most MT_CHAT_BYTES of chat, the rest coming in the next ones.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "commands.h"
#include "exclient.h"
#include "meta.h"
#include "roles.h"

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

int main(void)
{
    CHECK_INIT(c);
    wr_t r;
    if (wr_open(&r, "test-chat", &(rig_opts_t){.ring_seconds = 32, .user_cap = 64, .seed = 5}, 2, 64) != 0)
        return 1;
    tick(&r, 50);
    static cl_t ann, mal, eve, obs;
    ann = (cl_t){.uid = "11111111111", .name = "Ann"};
    mal = (cl_t){.uid = "66666666666", .name = "ann"};
    /* "Ev<RLO>e<ZWSP>" with a C1 control: shows as "Eve" */
    eve = (cl_t){.uid = "55555555555", .name = "Ev%E2%80%AEe%E2%80%8B%C2%85"};
    obs = (cl_t){.uid = "77777777777", .name = "Obs"};
    cl_t *all[] = {&ann, &mal, &eve, &obs};
    for (int i = 0; i < 4; i++) {
        connect_at(all[i], &r, 3 + i);
        CHECK_EQ_I(c, post(&r, all[i], NULL, NULL, NULL), 200);
        tick(&r, 20);
    }
    tick(&r, 600);
    char mpub[32];
    snprintf(mpub, sizeof mpub, "\"%llu\"", (unsigned long long)seg_public_id(r.k.seg, 66666666666ull));

    /* Mal, calling itself "ann", says hello: under "ann (2)", its own id. */
    CHECK_EQ_I(c, post(&r, &mal, "chat=%5B%22I+am+Ann%22%5D", NULL, NULL), 200);
    tick(&r, 20);
    CHECK_EQ_I(c, post(&r, &obs, NULL, NULL, NULL), 200);
    char want[160];
    snprintf(want, sizeof want, "\"chats\":[[\"ann (2)\",\"I am Ann\",%s]]", mpub);
    CHECK_MSG(c, has(obs.meta, want), "chat as seen: %.200s", strstr(obs.meta, "\"chats\""));
    CHECK(c, has(obs.meta, "\"Ann\"") && has(obs.meta, "\"ann (2)\""));
    CHECK(c, !has(obs.meta, "\"ann\","));

    /* Hidden characters out of names and messages. */
    CHECK_EQ_I(c, post(&r, &eve, "chat=%5B%22hi%E2%80%8Bthere%E2%80%AE%C2%85%22%2C%22%E2%80%8B%E2%80%8B%22%5D", NULL,
                       NULL),
               200);
    tick(&r, 20);
    CHECK_EQ_I(c, post(&r, &obs, NULL, NULL, NULL), 200);
    CHECK_MSG(c, has(obs.meta, "[\"Eve\",\"hithere\","), "chats: %.200s", strstr(obs.meta, "\"chats\""));
    CHECK_EQ_I(c, count(obs.meta, "\"Eve\",\""), 1);   /* the invisible-only message is none */
    CHECK(c, has(obs.meta, "\"Eve\""));
    CHECK(c, !has(obs.meta, "\\u202e") && !has(obs.meta, "\\u200b") && !has(obs.meta, "\\u0085"));

    /* Ten at once: five go, five are refused with a sentence; the audio
     * request is served as usual. */
    char q[1024] = "chat=%5B";
    for (int i = 0; i < 10; i++)
        snprintf(q + strlen(q), sizeof q - strlen(q), "%s%%22m%d%%22", i ? "%2C" : "", i);
    strcat(q, "%5D");
    CHECK_EQ_I(c, post(&r, &ann, q, NULL, NULL), 200);
    CHECK(c, has(ann.meta, "\"refused\":[\"chat: too many messages at once"));
    tick(&r, 20);
    CHECK_EQ_I(c, post(&r, &obs, NULL, NULL, NULL), 200);
    CHECK_EQ_I(c, count(obs.meta, "[\"Ann\",\"m"), CM_CHAT_BURST);
    CHECK(c, has(obs.meta, "\"m4\"") && !has(obs.meta, "\"m5\""));
    /* Spent: the next message at once is refused; two seconds later one
     * more goes (CM_CHAT_PER_MINUTE = 30). */
    CHECK_EQ_I(c, post(&r, &ann, "chat=%5B%22again%22%5D", NULL, NULL), 200);
    CHECK(c, has(ann.meta, "\"refused\""));
    for (int i = 0; i < 4; i++) {
        tick(&r, 600);
        for (int k = 0; k < 4; k++)
            post(&r, all[k], NULL, NULL, NULL);
    }
    CHECK_EQ_I(c, post(&r, &ann, "chat=%5B%22later%22%5D", NULL, NULL), 200);
    CHECK(c, !has(ann.meta, "\"refused\""));
    tick(&r, 20);
    CHECK_EQ_I(c, post(&r, &obs, NULL, NULL, NULL), 200);
    CHECK(c, has(obs.meta, "[\"Ann\",\"later\","));
    CHECK(c, !has(obs.meta, "\"again\""));

    /* 501 bytes: 400. */
    char big[2048] = "chat=%5B%22";
    for (int i = 0; i < 501; i++)
        strcat(big, "x");
    strcat(big, "%22%5D");
    CHECK_EQ_I(c, post(&r, &eve, big, NULL, NULL), 400);
    connect_at(&eve, &r, 5);

    /* A response carries at most MT_CHAT_BYTES of chat: twenty singers
     * each send three 490-byte messages (60 in all, about 30 KB); the
     * observer gets them over several responses, every one of them. */
    static cl_t many[20];
    static char uid[20][16], name[20][16];
    char q490[1800] = "chat=%5B";
    for (int k = 0; k < 3; k++) {
        strcat(q490, k ? "%2C%22" : "%22");
        for (int i = 0; i < 490; i++)
            strcat(q490, "y");
        strcat(q490, "%22");
    }
    strcat(q490, "%5D");
    for (int i = 0; i < 20; i++) {
        snprintf(uid[i], sizeof uid[i], "8%010d", i);
        snprintf(name[i], sizeof name[i], "s%02d", i);
        many[i] = (cl_t){.uid = uid[i], .name = name[i]};
        connect_at(&many[i], &r, 4);
        CHECK_EQ_I(c, post(&r, &many[i], NULL, NULL, NULL), 200);
    }
    tick(&r, 20);
    for (int i = 0; i < 20; i++)
        CHECK_EQ_I(c, post(&r, &many[i], q490, NULL, NULL), 200);
    tick(&r, 20);
    int got = 0, responses = 0;
    for (int k = 0; k < 10 && got < 60; k++) {
        CHECK_EQ_I(c, post(&r, &obs, NULL, NULL, NULL), 200);
        const char *ch = strstr(obs.meta, "\"chats\":");
        const char *end = ch ? strstr(ch, "]]") : NULL;
        CHECK(c, ch != NULL);
        if (end)
            CHECK_MSG(c, (size_t)(end - ch) <= MT_CHAT_BYTES, "chat part of one response: %zu bytes",
                      (size_t)(end - ch));
        got += count(obs.meta, "\"yyyyyyyyyy");
        responses++;
        tick(&r, 20);
    }
    printf("test_chat: 60 messages of 490 bytes reached the observer in %d responses\n", responses);
    CHECK_EQ_I(c, got, 60);
    CHECK(c, responses >= 3);

    /* A listener who asks for every control she may not, sends audio and
     * six messages at once is told all thirteen reasons: her role's twelve
     * and the chat's pace, which comes last. */
    static cl_t liv;
    static float sung[N];
    liv = (cl_t){.uid = "99999999999", .name = "Liv"};
    connect_at(&liv, &r, 5);
    CHECK_EQ_I(c, post(&r, &liv, "spectator=1", NULL, NULL), 200);
    tick(&r, 20);
    for (int i = 0; i < N; i++)
        sung[i] = tone(i);
    unsigned long long mal_pub = (unsigned long long)seg_public_id(r.k.seg, 66666666666ull);
    char lq[1024];
    snprintf(lq, sizeof lq,
             "spectator=1&request_lead=1&mark_start_singing=1&mark_stop_singing=1&bpm=90&track=x&volume=0.5"
             "&mic_volume=%%5B%%5B%%22%llu%%22%%2C0.5%%5D%%5D&monitor=%llu&timing_apply=%llu"
             "&remove=%llu&appoint=%llu&let_back=%llu"
             "&chat=%%5B%%22a%%22%%2C%%22b%%22%%2C%%22c%%22%%2C%%22d%%22%%2C%%22e%%22%%2C%%22f%%22%%5D",
             mal_pub, mal_pub, mal_pub, mal_pub, mal_pub, mal_pub);
    CHECK_EQ_I(c, post(&r, &liv, lq, sung, "[{\"evid\":\"x\",\"clock\":1}]"), 200);
    const role_who_t listener = {.listener = true};
    const role_act_t acts[] = {ROLE_ACT_LEAD, ROLE_ACT_STOP, ROLE_ACT_TEMPO, ROLE_ACT_TRACK, ROLE_ACT_VOLUME,
                               ROLE_ACT_MIC_OTHER, ROLE_ACT_MONITOR, ROLE_ACT_EVENTS, ROLE_ACT_SING,
                               ROLE_ACT_TIMING_OTHER, ROLE_ACT_REMOVE, ROLE_ACT_APPOINT};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        snprintf(want, sizeof want, "\"%s\"", role_refusal(&listener, acts[i]));
        CHECK_MSG(c, has(liv.meta, want), "the listener was not told %s", want);
    }
    CHECK_MSG(c, has(liv.meta, "\"chat: too many messages at once"), "refused: %.1200s",
              strstr(liv.meta, "\"refused\""));
    cl_free(&liv);

    for (int i = 0; i < 20; i++)
        cl_free(&many[i]);
    for (int i = 0; i < 4; i++)
        cl_free(all[i]);
    ex_destroy(r.ex);
    rig_close(&r.k);
    return check_done(&c, "test_chat");
}

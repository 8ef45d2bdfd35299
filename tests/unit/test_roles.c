/* test_roles.c - the permission table, every role against every action,
 * in a room with a leader present and in one without. */
#include <string.h>

#include "check.h"
#include "roles.h"

/* Expected: one row per action; columns: organiser, leader, singer,
 * listener; in a room with a leader (the singer and listener are not it)
 * and in a room without one. */
typedef struct {
    role_act_t act;
    const char *with_leader;     /* "OLSl": who may, with someone leading */
    const char *without_leader;  /* who may, with nobody leading */
} row_t;

static const row_t table[] = {
    {ROLE_ACT_LEAD, "OL", "OS"},
    {ROLE_ACT_START, "OL", "OS"},
    {ROLE_ACT_STOP, "OL", "O"},
    {ROLE_ACT_TEMPO, "OL", "O"},
    {ROLE_ACT_TRACK, "OL", "O"},
    {ROLE_ACT_VOLUME, "OL", "O"},
    {ROLE_ACT_MIC_SELF, "OLSl", "OSl"},
    {ROLE_ACT_MIC_OTHER, "OL", "O"},
    {ROLE_ACT_MONITOR, "OL", "O"},
    {ROLE_ACT_EVENTS, "OL", "O"},
    {ROLE_ACT_UPLOAD, "OL", "O"},
    {ROLE_ACT_CHAT, "OLSl", "OSl"},
    {ROLE_ACT_SING, "OLS", "OS"},
    {ROLE_ACT_MODERATE, "O", "O"},
    {ROLE_ACT_ROOM, "O", "O"},
    {ROLE_ACT_TIMING_SELF, "OLS", "OS"},
    {ROLE_ACT_TIMING_OTHER, "OL", "O"},
    {ROLE_ACT_DELETE_RECORDING, "O", "O"},
    {ROLE_ACT_WORDS, "OL", "O"},
    {ROLE_ACT_LEVELS, "OL", "O"},
    {ROLE_ACT_SOLO, "OL", "O"},
    {ROLE_ACT_REMOVE, "O", "O"},
    {ROLE_ACT_APPOINT, "O", "O"},
};

int main(void)
{
    CHECK_INIT(c);
    CHECK_EQ_I(c, sizeof table / sizeof table[0], ROLE_NACTS);
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        for (int led = 0; led < 2; led++) {
            const char *want = led ? table[i].with_leader : table[i].without_leader;
            role_who_t o = {.organiser = true, .room_has_leader = led, .uploads = true};
            role_who_t l = {.leads = true, .room_has_leader = true, .uploads = true};
            role_who_t s = {.room_has_leader = led, .uploads = true};
            role_who_t li = {.listener = true, .room_has_leader = led, .uploads = true};
            CHECK_EQ_I(c, role_may(&o, table[i].act), strchr(want, 'O') != NULL);
            if (led)
                CHECK_EQ_I(c, role_may(&l, table[i].act), strchr(want, 'L') != NULL);
            CHECK_EQ_I(c, role_may(&s, table[i].act), strchr(want, 'S') != NULL);
            CHECK_EQ_I(c, role_may(&li, table[i].act), strchr(want, 'l') != NULL);
            /* Every refusal has a sentence. */
            CHECK(c, strlen(role_refusal(&s, table[i].act)) > 5);
        }
    }
    /* A room without uploads: nobody uploads, not even the organiser. */
    role_who_t o = {.organiser = true}, l = {.leads = true, .room_has_leader = true};
    CHECK(c, !role_may(&o, ROLE_ACT_UPLOAD) && !role_may(&l, ROLE_ACT_UPLOAD));
    CHECK(c, strstr(role_refusal(&l, ROLE_ACT_UPLOAD), "not allowed") != NULL);
    CHECK(c, strcmp(role_name(&o), "organiser") == 0 && strcmp(role_name(&l), "leader") == 0);
    role_who_t li = {.listener = true};
    CHECK(c, strcmp(role_name(&li), "listener") == 0);
    /* The words: a singer is told who may, a listener why not. */
    role_who_t si = {.room_has_leader = true};
    CHECK(c, strstr(role_refusal(&si, ROLE_ACT_WORDS), "leader or the organiser") != NULL);
    CHECK(c, strstr(role_refusal(&li, ROLE_ACT_WORDS), "listener") != NULL);
    /* A recording goes only at the organiser's word; the leader is told so. */
    CHECK(c, strcmp(role_refusal(&l, ROLE_ACT_DELETE_RECORDING), "only the organiser can delete a recording") == 0);
    /* Removing and appointing are the organiser's alone: the leader is told so. */
    CHECK(c, strstr(role_refusal(&l, ROLE_ACT_REMOVE), "only the organiser") != NULL);
    CHECK(c, strstr(role_refusal(&l, ROLE_ACT_APPOINT), "only the organiser") != NULL);
    return check_done(&c, "test_roles");
}

/*
 * roles.h - who may do what in a room: the one permission table the
 * workers (to refuse at once, with a reason the page can show) and the
 * daemon (which decides, on the state it alone writes) both consult.
 *
 * Roles:
 *   organiser  holds the room's organiser link: every control, always,
 *              including taking the lead back from a leader who is there,
 *              deleting the room's recordings, removing a singer from the
 *              room (and letting them back in) and appointing the leader;
 *   leader     the singer who leads (appointed, or the first to lead a room
 *              without a leader): starts and stops the song, sets tempo,
 *              rounds, track and the volumes everyone hears, and another
 *              singer's mic volume (0 mutes them: out of the mix),
 *              monitoring and measured timing, and the song's words
 *              (words.h), and sees every singer's level (the console);
 *   singer     sings, chats, sets their own mic volume, applies their own
 *              measured timing (timing.h); may take the lead
 *              only while nobody leads (a leader silent for 5 s no longer
 *              leads), and the first to start a song in a room without a
 *              leader takes the lead with it (the original client's flow);
 *   listener   a singer who listens only: cannot sing into the mix nor lead.
 * In the default room (the original client, which has no links) everyone
 * is a singer, and the same rules hold between leader and non-leaders.
 * Pure: no I/O, no shared state.
 */
#ifndef BB_ROLES_H
#define BB_ROLES_H

#include <stdbool.h>

typedef enum {
    ROLE_ACT_LEAD = 0,     /* request_lead */
    ROLE_ACT_START,        /* mark_start_singing */
    ROLE_ACT_STOP,         /* mark_stop_singing */
    ROLE_ACT_TEMPO,        /* bpm, repeats, bpr */
    ROLE_ACT_TRACK,        /* track */
    ROLE_ACT_VOLUME,       /* volume, backing_volume: what everyone hears */
    ROLE_ACT_MIC_SELF,     /* mic_volume of oneself */
    ROLE_ACT_MIC_OTHER,    /* mic_volume of another singer */
    ROLE_ACT_MONITOR,      /* monitor another singer (stopping is always allowed) */
    ROLE_ACT_EVENTS,       /* X-Event-Data, reset_events: the room's cue table */
    ROLE_ACT_UPLOAD,       /* a backing track */
    ROLE_ACT_CHAT,
    ROLE_ACT_SING,         /* an upload that goes into the mix */
    ROLE_ACT_MODERATE,     /* mute or remove another singer, appoint the leader */
    ROLE_ACT_ROOM,         /* replace a link, cap the singers */
    ROLE_ACT_TIMING_SELF,  /* timing_apply of oneself: take one's measured offset */
    ROLE_ACT_TIMING_OTHER, /* timing_apply of another singer */
    ROLE_ACT_DELETE_RECORDING, /* delete a song's recording */
    ROLE_ACT_WORDS,        /* give the song its words, cue the next line */
    ROLE_ACT_LEVELS,       /* see every singer's live level (the console) */
    ROLE_ACT_SOLO,         /* hear chosen singers alone (hearing everyone again is always allowed) */
    ROLE_ACT_REMOVE,       /* remove a singer from the room, or let a removed one back in */
    ROLE_ACT_APPOINT,      /* make a present singer the leader */
    ROLE_NACTS
} role_act_t;

/* Who asks, and the room as they find it. */
typedef struct {
    bool organiser;        /* holds the organiser link */
    bool listener;         /* listens only */
    bool leads;            /* is the room's leader now */
    bool room_has_leader;  /* someone leads (and was heard within 5 s) */
    bool uploads;          /* the room allows uploads (the default room: if the operator says so) */
} role_who_t;

/* True if `who` may do `act`. */
bool role_may(const role_who_t *who, role_act_t act);

/* A sentence for the page when `who` may not do `act` (never NULL). */
const char *role_refusal(const role_who_t *who, role_act_t act);

/* The name of the role, as the page shows it: "organiser", "leader",
 * "singer" or "listener". */
const char *role_name(const role_who_t *who);

#endif

/*
 * roles.c - the permission table (roles.h).
 */
#include "roles.h"

bool role_may(const role_who_t *w, role_act_t act)
{
    if (w->organiser)
        return act != ROLE_ACT_UPLOAD || w->uploads;
    switch (act) {
    case ROLE_ACT_CHAT:
    case ROLE_ACT_MIC_SELF:
        return true;
    case ROLE_ACT_SING:
    case ROLE_ACT_TIMING_SELF:
        return !w->listener;
    case ROLE_ACT_LEAD:
    case ROLE_ACT_START:
        /* The leader starts; anyone may take a lead nobody holds. */
        return !w->listener && (w->leads || !w->room_has_leader);
    case ROLE_ACT_STOP:
    case ROLE_ACT_TEMPO:
    case ROLE_ACT_TRACK:
    case ROLE_ACT_VOLUME:
    case ROLE_ACT_MIC_OTHER:
    case ROLE_ACT_MONITOR:
    case ROLE_ACT_EVENTS:
    case ROLE_ACT_LEVELS:
    case ROLE_ACT_SOLO:
    case ROLE_ACT_TIMING_OTHER:
    case ROLE_ACT_WORDS:
        return w->leads;
    case ROLE_ACT_UPLOAD:
        return w->leads && w->uploads;
    case ROLE_ACT_MODERATE:
    case ROLE_ACT_ROOM:
    case ROLE_ACT_DELETE_RECORDING:
    case ROLE_ACT_REMOVE:
    case ROLE_ACT_APPOINT:
    case ROLE_NACTS:
        return false;
    }
    return false;
}

const char *role_refusal(const role_who_t *w, role_act_t act)
{
    switch (act) {
    case ROLE_ACT_LEAD:
    case ROLE_ACT_START:
        if (w->listener)
            return "a listener cannot lead: join as a singer to lead";
        return "someone else is leading; only they or the organiser can start a song";
    case ROLE_ACT_STOP:
        return "only the leader or the organiser can stop the song";
    case ROLE_ACT_TEMPO:
        return "only the leader or the organiser can set the tempo";
    case ROLE_ACT_TRACK:
        return "only the leader or the organiser can choose the track";
    case ROLE_ACT_VOLUME:
        return "only the leader or the organiser can set the volume for everyone";
    case ROLE_ACT_MIC_OTHER:
        return "only the leader or the organiser can set another singer's mic volume";
    case ROLE_ACT_MONITOR:
        return "only the leader or the organiser can monitor a singer";
    case ROLE_ACT_EVENTS:
        return "only the leader or the organiser can set cue events";
    case ROLE_ACT_WORDS:
        if (w->listener)
            return "a listener cannot change the words: only the leader or the organiser can";
        return "only the leader or the organiser can load the words or move to the next line";
    case ROLE_ACT_UPLOAD:
        return w->uploads ? "only the leader or the organiser can upload a track"
                          : "uploads are not allowed in this room";
    case ROLE_ACT_SING:
        return "a listener's voice does not go into the song";
    case ROLE_ACT_MODERATE:
        return "only the organiser can mute, remove or appoint singers";
    case ROLE_ACT_ROOM:
        return "only the organiser can change the room's links and limits";
    case ROLE_ACT_TIMING_SELF:
        return "a listener does not sing, so has no timing to correct";
    case ROLE_ACT_TIMING_OTHER:
        return "only the leader or the organiser can correct another singer's timing";
    case ROLE_ACT_DELETE_RECORDING:
        return "only the organiser can delete a recording";
    case ROLE_ACT_LEVELS:
        return "only the leader or the organiser see every singer's level";
    case ROLE_ACT_SOLO:
        return "only the leader or the organiser can hear singers alone";
    case ROLE_ACT_REMOVE:
        return "only the organiser can remove a singer from the room or let them back in";
    case ROLE_ACT_APPOINT:
        return "only the organiser can appoint the leader";
    case ROLE_ACT_CHAT:
    case ROLE_ACT_MIC_SELF:
    case ROLE_NACTS:
        break;
    }
    return "not allowed";
}

const char *role_name(const role_who_t *w)
{
    if (w->organiser)
        return "organiser";
    if (w->leads)
        return "leader";
    return w->listener ? "listener" : "singer";
}

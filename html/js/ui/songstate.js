// songstate.js: the line that says where the song is, at the top of the
// Song card, for everyone: waiting for a leader, the leader getting ready,
// counting in (the leader too), singing now with the track and the time
// into the song, ended (only for those who were there), and a "Recording"
// sign whenever the song is recorded.
//
// songStateOf() is pure (unit-tested in tests/js/songstate.test.js);
// renderSongState() puts it on the page.

import { $, setText, show } from './dom.js';

const RATE = 48000;

/** The metronome's entry in the server's track list (media/track.h). */
export const METRONOME_TRACK = 'metronome -- set BPM below';

/** m:ss for a number of seconds (0:00 below zero). */
export function clockText(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** A track's name as people call it: without the file's extension. */
export function trackTitle(name) {
  return String(name).replace(/\.(wav|flac|ogg|mp3)$/i, '');
}

/**
 * Where the song is for this singer. s: {
 *   songStart, songEnd   the server's clocks (null or 0: unset);
 *   clock                the clock this singer hears now (its playback
 *                        position; null before it plays);
 *   leader, leaderName, amLeader;
 *   track                the song's backing track's name, or '';
 *   metronomeBpm         the song's metronome tempo, or 0;
 *   recording            the server records the song;
 *   wasThere             this singer heard the song being sung;
 *   endSeen              the song's end already reached this singer (who
 *                        may hear it again from the last bucket since).
 * }
 * Returns {phase, text, detail, recording}: phase "waiting", "ready",
 * "counting", "singing" or "ended"; text the headline; detail the track
 * and the time into the song (singing) or ''.
 */
export function songStateOf(s) {
  const recording = !!s.recording;
  const who = s.amLeader ? 'You' : s.leaderName || 'The leader';
  const backing = s.track ? `“${trackTitle(s.track)}”` : s.metronomeBpm > 0 ? `metronome at ${s.metronomeBpm} bpm` : 'no backing track';
  if (s.songStart && s.clock != null) {
    const ended = s.songEnd && (s.clock >= s.songEnd || s.endSeen);
    if (ended) {
      if (s.wasThere) return { phase: 'ended', text: 'The song has ended.', detail: '', recording };
    } else if (s.clock < s.songStart) {
      const n = Math.ceil((s.songStart - s.clock) / RATE);
      return { phase: 'counting', text: `The song reaches you in ${n} s`, detail: backing, recording };
    } else {
      return {
        phase: 'singing', text: 'Singing now', detail: `${backing} · ${clockText((s.clock - s.songStart) / RATE)}`, recording,
      };
    }
  }
  if (s.leader != null) {
    const text = s.amLeader ? 'You lead: start the song when everyone is ready.' : `${who} leads and will start the song soon.`;
    return { phase: 'ready', text, detail: '', recording };
  }
  return { phase: 'waiting', text: 'Waiting for someone to lead a song.', detail: '', recording };
}

/** Shows st (from songStateOf) in the Song card. */
export function renderSongState(st) {
  const box = $('song-state');
  box.dataset.phase = st.phase;
  setText($('song-state-text'), st.text);
  setText($('song-state-detail'), st.detail);
  show($('song-state-detail'), !!st.detail);
  show($('recording-sign'), st.recording);
}

/*
 * stopfd.h - SIGTERM and SIGINT as a descriptor to wait on.
 *
 * The daemon and the workers stop between two units of work, never inside
 * one, and keep no global flag for it: both signals are blocked and read
 * from a signalfd that their main loop polls beside its other descriptors.
 */
#ifndef BB_STOPFD_H
#define BB_STOPFD_H

/* Resets SIGTERM and SIGINT to their default action (a parent may have left
 * them ignored, and an ignored signal never reaches a signalfd), blocks
 * them and returns a close-on-exec signalfd that becomes readable when one
 * arrives; -1 with errno set on failure. */
int stopfd_open(void);

/* Reads the pending signal from fd; returns its number, or 0 if none. */
int stopfd_read(int fd);

#endif

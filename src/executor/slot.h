/* One executor slot: a process with its own Redis connection that pops a
 * job at a time into its own processing list, runs it in a fresh sandbox
 * and publishes the result exactly once. */
#ifndef EVALD_SLOT_H
#define EVALD_SLOT_H

/* Runs slot index of executor eid until SIGTERM, finishing the job in hand.
 * Never returns. */
void slot_main(const char *eid, int index) __attribute__((noreturn));

#endif

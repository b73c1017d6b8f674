/* A FastCGI worker: accepts requests on the shared listening socket one at
 * a time, dispatches each through the route table and answers it. */
#ifndef EVALD_WORKER_H
#define EVALD_WORKER_H

/* Serves requests on listen_fd until SIGTERM; finishes the request in
 * flight first. Never returns. */
void worker_main(int listen_fd, int index) __attribute__((noreturn));

#endif
